"""The ``%seedance`` / ``%%seedance`` IPython magics and their ``Seedance`` settings.

Loaded by ``%load_ext seedance_widgets``. Importing this package imports IPython but not
the job engine or the widgets: those load on the first ``%seedance`` call.
"""

from __future__ import annotations

from typing import Any

from .config import Seedance
from .magics import SeedanceMagics

__all__ = ["Seedance", "SeedanceMagics", "load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(shell: Any) -> None:
    """Register ``%seedance``, the ``Seedance`` settings and the Job display (idempotent)."""
    if isinstance(shell.magics_manager.registry.get(SeedanceMagics.__name__), SeedanceMagics):
        return
    settings = Seedance(parent=shell)
    shell.configurables.append(settings)  # so `%config Seedance` lists and sets it
    magics = SeedanceMagics(shell, settings)
    shell.register_magics(magics)
    magics.displays.register(shell)


def unload_ipython_extension(shell: Any) -> None:
    """Remove what :func:`load_ipython_extension` added (running jobs carry on)."""
    magics = shell.magics_manager.registry.pop(SeedanceMagics.__name__, None)
    if not isinstance(magics, SeedanceMagics):
        return
    magics.displays.unregister(shell)
    for kind in ("line", "cell"):
        shell.magics_manager.magics[kind].pop("seedance", None)
    if magics.settings in shell.configurables:
        shell.configurables.remove(magics.settings)

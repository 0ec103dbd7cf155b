"""The Seedance gateway, offline: same endpoints and error shapes, real MP4s, injectable faults.

Depends only on ``seedance_widgets.api``. ``with Emulator(EmulatorConfig(speed=20)) as emu:``
serves on a real loopback socket; ``python -m seedance_widgets.emulator`` runs it standalone;
``launch.spawn_emulator()`` runs it as a subprocess.
"""

from .config import FAULTS, KINDS, PROFILES, EmulatorConfig
from .server import Emulator

__all__ = ["FAULTS", "KINDS", "PROFILES", "Emulator", "EmulatorConfig"]

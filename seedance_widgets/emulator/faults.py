"""Which fault (if any) the next request of a kind gets: scripted first, then by rate.

One random stream per kind, seeded from ``fault_seed``, so a sequential client sees the
same faults on every run regardless of what other kinds of request it interleaves.
"""

from __future__ import annotations

import random
import threading

from .config import KINDS, EmulatorConfig


class FaultPlan:
    """Draws faults for requests; thread-safe (the server and ``Emulator.configure`` share it)."""

    def __init__(self, seed: int) -> None:
        #: Also held by EmulatorState.configure, so a scripted fault is never both used and kept.
        self.lock = threading.RLock()
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        with self.lock:
            self._rngs = {kind: random.Random(f"faults:{seed}:{kind}") for kind in KINDS}

    def draw(self, kind: str, config: EmulatorConfig) -> str | None:
        """The fault for this request of ``kind`` (None: serve it normally).

        Consumes one entry of ``config.fail_next[kind]`` when there is one.
        """
        if kind not in KINDS:
            return None
        with self.lock:
            scripted = config.fail_next.get(kind)
            if scripted:
                return scripted.pop(0)
            rates = config.fault_rates.get(kind)
            if not rates:
                return None
            roll = self._rngs[kind].random()
            # Walk the rates in a fixed order so the same roll always picks the same fault.
            for fault in sorted(rates):
                roll -= rates[fault]
                if roll < 0:
                    return fault
            return None

"""``python -m seedance_widgets.emulator``: run the offline gateway until interrupted.

Prints the base URL and a key to use (with ``--json``, one JSON line and nothing else,
for programs such as ``launch.spawn_emulator``).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Sequence
from typing import Any

from .config import PROFILES, EmulatorConfig
from .server import Emulator


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m seedance_widgets.emulator",
        description="An offline emulator of the ToAPIs Seedance 1.5 Pro gateway (real HTTP, real MP4s).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    parser.add_argument("--port", type=int, default=8765, help="port; 0 = any free one (default 8765)")
    parser.add_argument("--speed", type=float, default=None, help="divide every task duration by this")
    parser.add_argument("--profile", choices=PROFILES, default=None, help="task timing (default quick)")
    parser.add_argument("--api-key", default=None, help="accept only this key (default: any non-empty key)")
    parser.add_argument("--fault-seed", type=int, default=None, help="seed of every random draw")
    parser.add_argument(
        "--config", default=None, metavar="JSON", help="EmulatorConfig fields as a JSON object"
    )
    parser.add_argument("--json", action="store_true", help="print only one JSON line: base_url, api_key")
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="stop when standard input closes (so a child emulator dies with its parent)",
    )
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    settings: dict[str, Any] = json.loads(args.config) if args.config else {}
    if not isinstance(settings, dict):
        raise SystemExit("--config must be a JSON object of EmulatorConfig fields")
    for name, value in (
        ("speed", args.speed),
        ("profile", args.profile),
        ("api_key", args.api_key),
        ("fault_seed", args.fault_seed),
    ):
        if value is not None:
            settings[name] = value
    try:
        return EmulatorConfig().replace(**settings)
    except (TypeError, ValueError) as err:
        raise SystemExit(f"bad emulator settings: {err}") from err


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    emulator = Emulator(config_from_args(args), host=args.host, port=args.port)

    def announce(emu: Emulator) -> None:
        if args.json:
            print(json.dumps({"base_url": emu.base_url, "api_key": emu.api_key}), flush=True)
            return
        cfg = emu.config
        print(f"Seedance emulator listening on {emu.base_url}  (profile {cfg.profile}, speed {cfg.speed:g})")
        print("Point the client at it:")
        print(f"  export SEEDANCE_BASE_URL={emu.base_url}")
        print(f"  export TOAPIS_API_KEY={emu.api_key}   # an emulator key, not a real one")
        print("Stats: GET /_emulator/stats   Settings: POST /_emulator/config   Stop: Ctrl-C", flush=True)

    if args.exit_on_stdin_eof:
        threading.Thread(target=_stop_on_eof, args=(emulator,), daemon=True, name="stdin-watch").start()
    try:
        emulator.serve_forever(ready=announce)
    except KeyboardInterrupt:
        pass
    return 0


def _stop_on_eof(emulator: Emulator) -> None:
    # Blocks until the parent closes our stdin (or dies, which closes it too).
    while sys.stdin.buffer.read(4096):
        pass
    emulator.request_stop()


if __name__ == "__main__":
    sys.exit(main())

"""The emulator as a program: the CLI, spawn_emulator, and the terminal demo."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from emu_support import probe

from seedance_widgets.api import GenerationRequest, SeedanceClient
from seedance_widgets.emulator.launch import spawn_emulator

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.pop("TOAPIS_API_KEY", None)
    return env


@pytest.fixture
def cli() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Starts ``python -m seedance_widgets.emulator --port 0 <args>``; kills what is left at the end."""
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "seedance_widgets.emulator", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def test_cli_prints_its_url_and_a_key_and_serves(cli: Callable[..., subprocess.Popen[str]]) -> None:
    proc = cli("--speed", "3", "--profile", "realistic")
    assert proc.stdout is not None
    first = proc.stdout.readline()
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", first)
    assert match, first
    base_url = match.group(1)
    rest = "".join(proc.stdout.readline() for _ in range(3))
    key = re.search(r"TOAPIS_API_KEY=(\S+)", rest)
    assert key, rest
    assert f"SEEDANCE_BASE_URL={base_url}" in rest
    config = requests.get(f"{base_url}/_emulator/config", timeout=5).json()
    assert config["speed"] == 3.0
    assert config["profile"] == "realistic"
    reply = requests.get(
        f"{base_url}/v1/videos/generations/task_vid_x",
        headers={"Authorization": f"Bearer {key.group(1)}"},
        timeout=5,
    )
    assert reply.status_code == 404
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0


def test_cli_json_mode_prints_one_json_line(cli: Callable[..., subprocess.Popen[str]]) -> None:
    proc = cli("--json", "--api-key", "sk-emu-only", "--config", '{"latency": 0.05}')
    assert proc.stdout is not None
    info = json.loads(proc.stdout.readline())
    assert set(info) == {"base_url", "api_key"}
    assert info["api_key"] == "sk-emu-only"
    config = requests.get(f"{info['base_url']}/_emulator/config", timeout=5).json()
    assert config["latency"] == 0.05
    assert config["api_key"] == "<hidden>"
    proc.terminate()
    proc.wait(timeout=10)
    assert proc.stdout.read() == ""  # nothing else on stdout in --json mode


def test_cli_refuses_bad_settings() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "seedance_widgets.emulator", "--config", '{"speed": -1}'],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
    assert "speed" in done.stderr


def test_spawn_emulator_runs_a_child_until_stopped() -> None:
    child = spawn_emulator(speed=50.0)
    try:
        assert child.running
        assert child.speed == 50.0
        assert child.base_url.startswith("http://127.0.0.1:")
        assert child.api_key not in repr(child)
        with SeedanceClient(api_key=child.api_key, base_url=child.base_url) as client:
            task = client.create(
                GenerationRequest("spawned", duration=4, resolution="480p", aspect_ratio="1:1")
            )
            deadline = time.monotonic() + 30
            while not task.is_final:
                assert time.monotonic() < deadline
                time.sleep(0.05)
                task = client.get(task.id)
        assert task.status == "completed"
        assert requests.get(f"{child.base_url}/_emulator/stats", timeout=5).json()["create"] == 1
    finally:
        child.stop()
    assert not child.running
    child.stop()  # idempotent
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{child.base_url}/_emulator/stats", timeout=2)


def test_spawn_emulator_checks_settings_before_starting() -> None:
    with pytest.raises(ValueError, match="profile"):
        spawn_emulator(profile="nope")


def test_demo_saves_a_playable_720p_clip_with_audio(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "seedance_widgets.demo", "--out", str(tmp_path), "--speed", "20"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "completed" in done.stdout
    assert "100%" in done.stdout
    saved = [p for p in tmp_path.iterdir() if p.suffix == ".mp4"]
    assert len(saved) == 1
    assert str(saved[0].resolve()) in done.stdout
    info = probe(saved[0].read_bytes())
    assert (info.width, info.height) == (1280, 720)
    assert info.frames == 120
    assert info.audio

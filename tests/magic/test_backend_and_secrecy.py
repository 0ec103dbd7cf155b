"""No key: the built-in emulator with a one-time notice. With a key: it is never shown anywhere."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from magic_session import Session, make_session

from seedance_widgets.backend import backend_notice
from seedance_widgets.emulator import Emulator

SECRET = "sk-magic-test-5f1e9c0d7a3b-DO-NOT-SHOW"


def test_no_key_uses_the_built_in_emulator_with_a_one_time_notice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOAPIS_API_KEY", raising=False)
    monkeypatch.delenv("SEEDANCE_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    with make_session(capsys, monkeypatch) as ip:
        ip.run("%config Seedance.output_dir = 'out'")
        dry = ip.run("%seedance --dry-run a cat in a hat")  # resolving the backend spawns the emulator
        out = capsys.readouterr().out
        notice = backend_notice()
        assert notice is not None
        assert "TOAPIS_API_KEY" in notice
        assert out.count(notice) == 1
        assert "POST http://127.0.0.1:" in out  # the dry run's target: the spawned emulator
        assert dry.body["prompt"] == "a cat in a hat"
        job = ip.run("%seedance --resolution 480p -d 4 a cat in a hat")
        assert notice not in capsys.readouterr().out  # once only
        deadline = time.monotonic() + 60
        while job.task_id is None:  # the create reached the spawned emulator
            assert not job.done, job.snapshot().error
            assert time.monotonic() < deadline
            time.sleep(0.02)
        table = ip.run("%seedance config")
        values = {row["setting"]: row["value"] for row in table.rows}
        assert values["API key"].startswith("not set")
        job.cancel()


def test_base_url_without_key_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOAPIS_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    with make_session(capsys, monkeypatch) as ip:
        ip.run("%config Seedance.base_url = 'http://127.0.0.1:9'")
        with pytest.raises(UsageError, match="TOAPIS_API_KEY is not set"):
            ip.run("%seedance a cat")


def test_the_key_never_appears_in_any_output_state_or_file(
    ip: Session, emu_env: Emulator, tmp_outputs: Path, monkeypatch: pytest.MonkeyPatch, png: Path
) -> None:
    from ipywidgets.widgets.widget import _instances  # live widgets, to read their synced state

    monkeypatch.setenv("TOAPIS_API_KEY", SECRET)  # the emulator accepts any non-empty key
    shown: list[str] = []
    job = ip.run(f"%seedance --wait --resolution 480p -d 4 --first {png} a secretive fox")
    assert job.status == "done"
    for code in (
        "job2 = %seedance --dry-run --seeds 1,2 a fox",
        "%seedance jobs",
        "%seedance config",
        "%config Seedance",
        "%seedance?",
        f"%seedance attach {job.task_id}",
        f"%seedance cancel {job.local_id}",
        "print(repr(_), repr(job2))",
        "%%seedance -d 4 --resolution 480p --wait\nfailme please",
    ):
        ip.run(code)
    for code in ("%seedance -d 13 a fox", "%seedance --first nope.png a fox", "%seedance jbos"):
        with pytest.raises(UsageError) as caught:
            ip.run(code)
        shown.append(str(caught.value))
    shown.append(ip.all_text())
    for model_id in ip.widget_ids():
        shown.append(repr(_instances[model_id].get_state()))
    shown.append(repr(job) + repr(job.snapshot()))
    shown += [
        p.read_text(errors="replace") for p in tmp_outputs.rglob("*") if p.suffix in (".jsonl", ".json")
    ]
    assert emu_env.stats()["create"] >= 2  # real calls were made with the key
    for text in shown:
        assert SECRET not in text

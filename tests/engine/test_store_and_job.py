"""The output folder's naming and hashing, and the Job handle on its own (no network)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from seedance_widgets.api import GenerationRequest
from seedance_widgets.engine import Job, JobCancelledError, JobSnapshot, JobState, WaitTimeoutError
from seedance_widgets.engine.store import Store, canonical_body, canonical_hash, resolve_output_dir, slugify


def test_slug_is_short_safe_and_readable() -> None:
    assert slugify("Sunset at the beach, golden light!") == "sunset-at-the-beach-golden-light"
    assert slugify("Crème brûlée / ../../etc/passwd") == "creme-brulee-etc-passwd"
    assert slugify("日本語だけ") == "video"
    assert len(slugify("word " * 50)) <= 40


def test_request_hash_ignores_key_order_and_marks_local_images_by_content() -> None:
    base = GenerationRequest(prompt="a fox", seed=3)
    assert canonical_hash(base.to_body()) == canonical_hash(dict(reversed(list(base.to_body().items()))))
    assert canonical_hash(base.replace(seed=4).to_body()) != canonical_hash(base.to_body())
    marker = "sha256:" + "ab" * 32
    body = canonical_body(base, [("first_frame", marker)])
    assert body["image_with_roles"] == [{"url": marker, "role": "first_frame"}]
    with_url = base.replace(image_urls=("https://a.example/1.png",))
    assert "image_urls" not in canonical_body(with_url, [("first_frame", marker)])
    assert canonical_body(with_url) == with_url.to_body()


def test_output_dir_comes_from_argument_then_environment_then_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEEDANCE_OUTPUT_DIR", raising=False)
    assert resolve_output_dir() == tmp_path / "seedance_outputs"
    monkeypatch.setenv("SEEDANCE_OUTPUT_DIR", str(tmp_path / "env"))
    assert resolve_output_dir() == tmp_path / "env"
    assert resolve_output_dir(tmp_path / "arg") == tmp_path / "arg"


def test_store_keeps_videos_by_content(tmp_path: Path) -> None:
    store = Store(tmp_path / "out")
    store.ensure()
    incoming = store.incoming_path("job-1")
    incoming.write_bytes(b"\x00\x00\x00\x18ftypmp42 fake")
    path, digest = store.keep_video(incoming, "A fox in snow")
    assert path.name == f"{digest[:16]}-a-fox-in-snow.mp4"
    assert not incoming.exists()
    assert store.file_matches(path, digest)
    assert not store.file_matches(path, "0" * 64)
    path.write_bytes(b"changed")
    assert not store.file_matches(path, digest)


def _job() -> Job:
    return Job(JobSnapshot(local_id="job-x", request=GenerationRequest(prompt="a quiet harbour at dawn")))


def test_job_wait_observers_and_repr_without_an_engine() -> None:
    job = _job()
    seen: list[str] = []
    unsubscribe = job.subscribe(lambda snap: seen.append(snap.state))
    with pytest.raises(WaitTimeoutError):
        job.wait(0.01)
    done_at = Path("/tmp/x.mp4")
    timer = threading.Timer(0.05, lambda: job._update(state=JobState.DONE, path=done_at))
    timer.start()
    assert job.wait(5) == done_at
    timer.join()
    unsubscribe()
    job._update(state=JobState.DONE)
    assert seen == [JobState.DONE]
    assert "a quiet harbour at dawn" in repr(job)
    assert "done" in repr(job)


def test_cancel_without_engine_and_a_failing_observer() -> None:
    job = _job()

    def broken(_: JobSnapshot) -> None:
        raise RuntimeError("observer bug")

    job.subscribe(broken)  # logged, never stops the update
    job.cancel()
    assert job.status == JobState.CANCELLED
    with pytest.raises(JobCancelledError, match="billed"):
        job.wait(0)


def test_without_a_key_the_builtin_emulator_is_used_with_a_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    from seedance_widgets import backend

    monkeypatch.delenv("TOAPIS_API_KEY", raising=False)
    monkeypatch.delenv("SEEDANCE_BASE_URL", raising=False)
    first = backend.resolve_client()
    second = backend.resolve_client()
    assert first.base_url == second.base_url  # one emulator per process
    assert first.base_url.startswith("http://127.0.0.1:")
    notice = backend.backend_notice()
    assert notice is not None
    assert "TOAPIS_API_KEY" in notice
    assert first.base_url in notice
    assert "emulator" in backend.describe_backend(first)
    assert first.get(first.create(GenerationRequest(prompt="a test pattern")).id).id


def test_wait_returns_only_after_observers_saw_the_final_state() -> None:
    job = _job()
    seen: list[str] = []

    def slow_view(snap: JobSnapshot) -> None:
        if snap.is_final:
            time.sleep(0.2)  # e.g. a view publishing its final display
            seen.append(snap.state)

    job.subscribe(slow_view)
    timer = threading.Timer(0.01, lambda: job._update(state=JobState.DONE, path=Path("/tmp/x.mp4")))
    timer.start()
    job.wait(5)
    assert seen == [JobState.DONE]
    timer.join()

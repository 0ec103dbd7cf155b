"""JobView driven by real jobs on the emulator: traits, custom messages, static fallback, no key.

The widget's comm is widget_support's ``RecordingComm``, a ``comm.base_comm.BaseComm`` that records
what it would publish (the kernel's zmq socket is the only part left out here;
tests/widgets/test_job_view_kernel.py runs the same exchange through real ipykernel 6 and 7 kernels).
Messages from the front-end enter through ``comm.handle_msg``, the exact entry point the kernel's comm
manager calls.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from widget_support import RecordingComm, send, wait_until

from seedance_widgets.api import GenerationRequest
from seedance_widgets.emulator import Emulator
from seedance_widgets.engine.manager import JobManager
from seedance_widgets.widgets import MSG_CANCEL, MSG_VIDEO_REQUEST, MSG_VIDEO_RESPONSE, JobView, _cards


def request(prompt: str = "a paper boat on a pond at dawn", **kw: Any) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, duration=4, resolution="480p", **kw)


def test_view_follows_a_real_job_to_done(
    comms: list[RecordingComm], manager: JobManager, tmp_outputs: Path
) -> None:
    job = manager.submit(request(seed=1234, aspect_ratio="9:16", audio=True))
    view = JobView(job, notebook_dir=tmp_outputs.parent)
    seen: list[str] = []
    view.observe(lambda change: seen.append(change["new"]), names="state")
    path = job.wait(timeout=30)
    wait_until(lambda: view.state == "done", timeout=20)

    assert "running" in seen or "queued" in seen  # it was watched, not only read at the end
    assert view.progress == 100
    assert view.status_text.startswith("Done")
    assert view.task_id == job.task_id != ""
    assert view.params == {
        "model": "doubao-seedance-1-5-pro",
        "model_label": "Seedance 1.5 Pro",
        "videos": 0,
        "audios": 0,
        "return_last_frame": False,
        "web_search": False,
        "resolution": "480p",
        "aspect_ratio": "9:16",
        "duration": 4,
        "audio": True,
        "seed": job.snapshot().seed if job.snapshot().seed is not None else 1234,
        "camera_fixed": False,
        "images": 0,
    }
    assert view.cost_estimate == pytest.approx(job.snapshot().cost_estimate)
    # The elapsed clock counts from started_at, or from submitted_at when no poll saw "running".
    assert view.submitted_at is not None
    assert view.finished_at is not None
    assert view.finished_at >= (view.started_at or view.submitted_at)
    assert view.kernel_time == pytest.approx(job.snapshot().at)
    facts = view.video
    assert facts is not None
    assert (facts["width"], facts["height"]) == (496, 864)
    assert facts["measured"] is True  # probed from the file, not copied from the request
    assert facts["fps"] == pytest.approx(24)
    assert facts["duration"] == pytest.approx(4, abs=0.1)
    assert facts["size"] == path.stat().st_size
    assert facts["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert facts["file_name"] == path.name
    assert view.provenance["task_id"] == job.task_id
    assert view.provenance["model"] == "doubao-seedance-1-5-pro"
    assert view.provenance["sha256"] == facts["sha256"]
    assert view.video_bytes == b""  # not embedded: the view asks the kernel
    # Every change reached the comm as batched state updates, the final one included.
    updates = comms[-1].updates()
    assert any(u.get("state") == "done" for u in updates)
    assert any("progress" in u and "status_text" in u for u in updates)


def test_video_request_is_answered_with_the_files_bytes(
    comms: list[RecordingComm], manager: JobManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small chunks, so this short clip exercises the multi-chunk path.
    monkeypatch.setattr(_cards, "VIDEO_CHUNK_BYTES", 4096)
    job = manager.submit(request())
    view = JobView(job)
    path = job.wait(timeout=30)
    recorder = comms[-1]

    send(view, {"kind": MSG_VIDEO_REQUEST, "id": "req-1"})

    replies = recorder.custom()
    assert replies, "no reply to the video request"
    size = path.stat().st_size
    assert len(replies) == -(-size // 4096) > 1
    for index, (content, buffers) in enumerate(replies):
        assert content["kind"] == MSG_VIDEO_RESPONSE
        assert content["id"] == "req-1"
        assert content["chunk"] == index
        assert content["chunks"] == len(replies)
        assert content["size"] == size
        assert len(buffers) == 1
    assert b"".join(buffers[0] for _, buffers in replies) == path.read_bytes()


def test_video_request_before_done_gets_an_error_reply(
    comms: list[RecordingComm], manager: JobManager
) -> None:
    job = manager.submit(request("a slow lighthouse at night"))
    view = JobView(job)
    send(view, {"kind": MSG_VIDEO_REQUEST, "id": "early"})
    (content, buffers), *_ = comms[-1].custom()
    assert content["id"] == "early"
    assert "no video to send" in content["error"]
    assert buffers == []
    job.cancel()


def test_cancel_message_stops_watching(comms: list[RecordingComm], manager: JobManager) -> None:
    job = manager.submit(request("a lighthouse in fog"))
    view = JobView(job)
    send(view, {"kind": MSG_CANCEL})
    wait_until(lambda: view.state == "cancelled", timeout=20)
    assert job.status == "cancelled"
    assert view.status_text == "Stopped watching"
    assert "billed" in view.error  # says what a cancel does and does not do
    assert view.callback_error == ""


def test_unknown_kinds_are_ignored_and_handler_errors_are_shown(
    comms: list[RecordingComm], manager: JobManager
) -> None:
    class Faulty(JobView):
        def _handlers(self) -> dict[str, Callable[[dict[str, Any]], None]]:
            def explode(_content: dict[str, Any]) -> None:
                raise RuntimeError("boom in a handler")

            return {**super()._handlers(), "explode": explode}

    job = manager.submit(request("a windmill"))
    view = Faulty(job)
    send(view, {"kind": "from-a-newer-front-end"})
    send(view, {"no-kind": True})
    assert view.callback_error == ""
    assert comms[-1].custom() == []
    send(view, {"kind": "explode"})
    assert "RuntimeError: boom in a handler" in view.callback_error
    assert any("callback_error" in u for u in comms[-1].updates())  # reaches the front-end
    job.cancel()


def test_refused_prompt_shows_refused_and_the_gateways_words(
    comms: list[RecordingComm], manager: JobManager
) -> None:
    job = manager.submit(request("something forbidden on a beach"))
    view = JobView(job)
    wait_until(lambda: view.state == "failed", timeout=10)
    assert view.status_text == "Refused"
    assert "policy" in view.error.lower()
    assert "Traceback" not in view.error
    assert view.task_id == ""  # refused at create: no task, no bill
    data, _ = view._repr_mimebundle_()
    assert "Refused" in data["text/plain"]
    assert 'data-state="failed"' in data["text/html"]


def test_failed_job_shows_the_gateways_words(comms: list[RecordingComm], manager: JobManager) -> None:
    job = manager.submit(request("this one will failme part-way"))
    view = JobView(job)
    wait_until(lambda: view.state == "failed", timeout=10)
    assert view.status_text == "Failed"
    assert view.error
    assert "Traceback" not in view.error
    data, _ = view._repr_mimebundle_()
    assert view.error.split(":")[0] in data["text/html"]
    assert 'data-state="failed"' in data["text/html"]
    assert "<video" not in data["text/html"]
    assert "Failed" in data["text/plain"]


def test_static_fallback_of_a_done_job(
    comms: list[RecordingComm], manager: JobManager, tmp_outputs: Path
) -> None:
    job = manager.submit(request("a <b>bold</b> heron & a frog", seed=77))
    notebook_dir = tmp_outputs.parent
    view = JobView(job, notebook_dir=notebook_dir)
    path = job.wait(timeout=30)
    wait_until(lambda: view.state == "done", timeout=20)

    data, metadata = view._repr_mimebundle_()
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == view.model_id
    text = data["text/plain"]
    assert text.startswith(f"Seedance job {job.local_id}: Done")
    assert str(path) in text
    html = data["text/html"]
    relative = path.relative_to(notebook_dir).as_posix()
    assert f'src="{relative}"' in html
    assert "&lt;b&gt;bold&lt;/b&gt; heron &amp; a frog" in html  # escaped, never markup
    assert "<b>bold</b>" not in html
    assert job.task_id in html
    prov = metadata["seedance_widgets"]
    assert prov["task_id"] == job.task_id
    assert prov["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert prov["request"]["prompt"] == "a <b>bold</b> heron & a frog"
    assert prov["request"]["metadata"]["seed"] == 77
    assert prov["model"] == "doubao-seedance-1-5-pro"
    assert prov["package_version"]
    assert prov["submitted_at"] <= prov["finished_at"]
    assert repr(view).startswith("<JobView Seedance job")


def test_embed_keeps_the_bytes_in_state_and_html(comms: list[RecordingComm], manager: JobManager) -> None:
    job = manager.submit(request("an embedded sunrise"))
    view = JobView(job, embed=True)
    path = job.wait(timeout=30)
    wait_until(lambda: view.video_bytes != b"", timeout=20)
    assert view.video_bytes == path.read_bytes()
    html = view._repr_mimebundle_()[0]["text/html"]
    assert 'src="data:video/mp4;base64,' + base64.b64encode(path.read_bytes()).decode() + '"' in html


def test_the_key_never_reaches_widget_state_or_outputs(
    comms: list[RecordingComm], manager: JobManager, emulator: Emulator
) -> None:
    key = emulator.api_key
    assert key
    job = manager.submit(request("a key-free kingfisher"))
    view = JobView(job)
    job.wait(timeout=30)
    wait_until(lambda: view.state == "done", timeout=20)
    send(view, {"kind": MSG_VIDEO_REQUEST, "id": "k"})
    state = view.get_state()
    state.pop("video_bytes", None)
    everything = [
        json.dumps(state, default=str),
        json.dumps(view._repr_mimebundle_(), default=str),
        repr(view),
        json.dumps([(t, d) for t, d, _ in comms[-1].published], default=str),
    ]
    for text in everything:
        assert key not in text


def test_closing_the_view_stops_observing_the_job(comms: list[RecordingComm], manager: JobManager) -> None:
    job = manager.submit(request("a closed view of a calm lake"))
    view = JobView(job)
    view.close()
    updates_after_close = len(comms[-1].updates())
    job.wait(timeout=30)
    assert view.state != "done"  # no longer updated
    assert len(comms[-1].updates()) == updates_after_close

"""The emulator's Ark side (``/api/v3``), over real loopback HTTP: create, get, list, delete, the
queue, expiry, tokens, error shapes and faults. Field names follow the official SDK's
``ContentGenerationTask`` (volcengine-python-sdk, volcenginesdkarkruntime/types/content_generation)."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest
import requests
from emu_support import auth, body, create, fitted, frames_rgb, mean_abs_diff, pattern_png, poll, probe

from seedance_widgets.api import CANCELLED, COMPLETED, GenerationRequest, SeedanceClient, catalog
from seedance_widgets.emulator import Emulator, EmulatorConfig
from seedance_widgets.emulator.ark_book import completion_tokens

PRO_15 = "doubao-seedance-1-5-pro-251215"
PRO_15_BYTEPLUS = "seedance-1-5-pro-251215"
SEEDANCE_20 = "doubao-seedance-2-0-260128"
#: Ark task fields the SDK's ContentGenerationTask names, present in every get reply here.
ALWAYS = {
    "id",
    "model",
    "status",
    "created_at",
    "updated_at",
    "seed",
    "resolution",
    "ratio",
    "duration",
    "framespersecond",
    "service_tier",
    "execution_expires_after",
    "generate_audio",
}


def ark_body(prompt: str = "a small red ball bounces", **changes: Any) -> dict[str, Any]:
    """The cheapest Ark create body: 4 s, 480p, 1:1, no audio, fixed seed."""
    out: dict[str, Any] = {
        "model": PRO_15,
        "content": [{"type": "text", "text": prompt}],
        "resolution": "480p",
        "ratio": "1:1",
        "duration": 4,
        "seed": 7,
        "generate_audio": False,
    }
    out.update(changes)
    return out


def tasks_url(emu: Emulator, task_id: str | None = None) -> str:
    url = f"{emu.base_url}/api/v3/contents/generations/tasks"
    return url if task_id is None else f"{url}/{task_id}"


def ark_create(emu: Emulator, payload: dict[str, Any] | None = None) -> requests.Response:
    return requests.post(tasks_url(emu), json=payload or ark_body(), headers=auth(emu), timeout=10)


def created(emu: Emulator, payload: dict[str, Any] | None = None) -> str:
    reply = ark_create(emu, payload)
    assert reply.status_code == 200, reply.text
    assert set(reply.json()) == {"id"}
    task_id: str = reply.json()["id"]
    return task_id


def ark_get(emu: Emulator, task_id: str) -> requests.Response:
    return requests.get(tasks_url(emu, task_id), headers=auth(emu), timeout=10)


def ark_delete(emu: Emulator, task_id: str) -> requests.Response:
    return requests.delete(tasks_url(emu, task_id), headers=auth(emu), timeout=10)


def ark_list(emu: Emulator, params: Any = None) -> dict[str, Any]:
    reply = requests.get(tasks_url(emu), params=params, headers=auth(emu), timeout=10)
    assert reply.status_code == 200, reply.text
    out: dict[str, Any] = reply.json()
    return out


def wait_status(emu: Emulator, task_id: str, wanted: set[str], limit: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    while True:
        reply = ark_get(emu, task_id)
        assert reply.status_code == 200, reply.text
        task: dict[str, Any] = reply.json()
        if task["status"] in wanted:
            return task
        assert time.monotonic() < deadline, f"task still {task['status']} after {limit} s"
        time.sleep(0.02)


def assert_ark_error(reply: requests.Response, status: int, code: str, param: str | None = None) -> None:
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert set(error) == {"code", "message", "param", "type"}
    assert error["code"] == code
    assert error["message"]
    if param is not None:
        assert error["param"] == param


def hold_in_queue(emu: Emulator) -> None:
    """New tasks stay queued for an hour of emulator time (minutes of wall time)."""
    emu.configure(ark_queue_seconds=3600.0)


# ---- create, get, download -------------------------------------------------------------------------
def test_create_poll_to_succeeded_and_download_a_real_mp4(emulator: Emulator) -> None:
    before = int(time.time())
    task_id = created(emulator)
    assert task_id.startswith("cgt-")
    first = ark_get(emulator, task_id).json()
    assert first["status"] in ("queued", "running")
    assert "usage" not in first
    assert "content" not in first
    done = wait_status(emulator, task_id, {"succeeded", "failed"})
    assert done["status"] == "succeeded", done
    assert set(done) >= ALWAYS
    assert done["model"] == PRO_15
    assert (done["seed"], done["resolution"], done["ratio"], done["duration"]) == (7, "480p", "1:1", 4)
    assert done["framespersecond"] == 24
    assert done["service_tier"] == "default"
    assert before <= done["created_at"] <= done["updated_at"] <= int(time.time())
    assert "error" not in done
    assert "last_frame_url" not in done["content"]
    video = requests.get(done["content"]["video_url"], timeout=30)
    assert video.status_code == 200
    facts = probe(video.content)
    assert (facts.width, facts.height, facts.codec) == (640, 640, "h264")
    assert facts.duration == pytest.approx(4.0, abs=0.1)
    # The bill follows the clip that was really made: width x height x fps x seconds / 1024.
    tokens = round(facts.width * facts.height * 24 * 4 / 1024)
    assert done["usage"] == {"completion_tokens": tokens, "total_tokens": tokens}
    stats = emulator.stats()
    assert (stats["ark_creates"], stats["ark_billed_tokens"], stats["ark_queued"]) == (1, tokens, 0)


def test_token_count_follows_each_clip_shape(emulator: Emulator) -> None:
    emulator.configure(speed=1000.0)
    task_id = created(emulator, ark_body(resolution="720p", ratio="16:9", duration=5))
    done = wait_status(emulator, task_id, {"succeeded"})
    width, height = catalog.output_size(catalog.MODELS["doubao-seedance-1-5-pro"], "720p", "16:9") or (0, 0)
    facts = probe(requests.get(done["content"]["video_url"], timeout=30).content)
    assert (facts.width, facts.height) == (width, height)
    assert done["usage"]["completion_tokens"] == completion_tokens(width, height, 24, 5)
    assert completion_tokens(1280, 720, 24, 5) == 108000  # the digest's rule, worked through


def test_last_frame_url_only_when_asked(emulator: Emulator) -> None:
    emulator.configure(speed=1000.0)
    task_id = created(emulator, ark_body(model=SEEDANCE_20, return_last_frame=True))
    done = wait_status(emulator, task_id, {"succeeded"})
    frame = requests.get(done["content"]["last_frame_url"], timeout=30)
    assert frame.status_code == 200
    assert frame.content.startswith(b"\x89PNG")
    plain = wait_status(emulator, created(emulator, ark_body(model=SEEDANCE_20, seed=8)), {"succeeded"})
    assert set(plain["content"]) == {"video_url"}


def test_flex_tier_is_echoed_and_waits_longer_in_the_queue(emulator: Emulator) -> None:
    # The quick profile queues 0.8-1.2 s (x2 at speed 0.5); flex waits three times as long, so it
    # is still queued when the default task starts running, whatever the load.
    emulator.configure(speed=0.5, ark_queue_seconds=None)
    flex = created(emulator, ark_body("offline", service_tier="flex"))
    default = created(emulator, ark_body("online"))
    wait_status(emulator, default, {"running"})
    task = ark_get(emulator, flex).json()
    assert task["status"] == "queued"
    assert task["service_tier"] == "flex"
    assert ark_get(emulator, default).json()["service_tier"] == "default"


def test_byteplus_model_ids_are_served_and_echoed(emulator: Emulator) -> None:
    task_id = created(emulator, ark_body(model=PRO_15_BYTEPLUS))
    assert ark_get(emulator, task_id).json()["model"] == PRO_15_BYTEPLUS


def test_data_url_first_frame_is_used_like_an_upload(emulator: Emulator) -> None:
    emulator.configure(speed=1000.0)
    png = pattern_png((400, 300), 0)
    image = "data:image/png;base64," + base64.b64encode(png).decode()
    content = [
        {"type": "text", "text": "the picture comes alive"},
        {"type": "image_url", "image_url": {"url": image}, "role": "first_frame"},
    ]
    task_id = created(emulator, ark_body(content=content, ratio="16:9"))
    done = wait_status(emulator, task_id, {"succeeded"})
    data = requests.get(done["content"]["video_url"], timeout=30).content
    frames = frames_rgb(data, [0, 48])
    size = catalog.output_size(catalog.MODELS["doubao-seedance-1-5-pro"], "480p", "16:9")
    assert size is not None
    want = fitted(png, size)
    assert mean_abs_diff(frames[0], want) < 6
    assert mean_abs_diff(frames[48], want) > 20  # the check can fail: mid-clip is something else


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("data:image/png;base64,!!!notbase64", "base64"),
        ("data:image/png;base64," + base64.b64encode(b"plain text, not a picture").decode(), "image"),
        ("data:image/png," + "x" * 20, "base64"),
    ],
    ids=["bad-base64", "not-an-image", "not-base64-url"],
)
def test_bad_data_urls_are_refused_naming_the_item(emulator: Emulator, url: str, why: str) -> None:
    content = [
        {"type": "text", "text": "x"},
        {"type": "image_url", "image_url": {"url": url}, "role": "first_frame"},
    ]
    reply = ark_create(emulator, ark_body(content=content))
    assert_ark_error(reply, 400, "InvalidParameter", "content[1].image_url.url")
    assert why in reply.json()["error"]["message"]
    assert emulator.stats()["ark_creates"] == 0


def test_data_url_over_the_image_cap_is_refused(emulator: Emulator) -> None:
    png = pattern_png((400, 300), 0)
    emulator.configure(ark_max_image_bytes=len(png) - 1)
    image = "data:image/png;base64," + base64.b64encode(png).decode()
    content = [
        {"type": "text", "text": "x"},
        {"type": "image_url", "image_url": {"url": image}, "role": "first_frame"},
    ]
    assert_ark_error(ark_create(emulator, ark_body(content=content)), 400, "InvalidParameter")
    assert emulator.stats()["uploads"] == 0


# ---- cancel and delete -------------------------------------------------------------------------------
def test_cancel_queued_task_ends_cancelled_with_zero_tokens_and_no_render(emulator: Emulator) -> None:
    hold_in_queue(emulator)
    task_id = created(emulator)
    assert ark_get(emulator, task_id).json()["status"] == "queued"
    assert emulator.stats()["ark_queued"] == 1
    reply = ark_delete(emulator, task_id)
    assert reply.status_code == 200
    assert reply.json() == {}
    task = ark_get(emulator, task_id).json()
    assert task["status"] == "cancelled"
    assert task["usage"] == {"completion_tokens": 0, "total_tokens": 0}
    assert "content" not in task
    stats = emulator.stats()
    assert (stats["ark_cancels"], stats["ark_billed_tokens"], stats["ark_queued"], stats["renders"]) == (
        1,
        0,
        0,
        0,
    )
    # A cancelled task cannot be cancelled again, nor deleted (Ark's DELETE table).
    assert_ark_error(ark_delete(emulator, task_id), 400, "InvalidAction.TaskNotCancellable", "id")


def test_cancelled_task_is_never_rendered_even_after_its_queue_time(emulator: Emulator) -> None:
    queue_wall = 2.0
    emulator.configure(ark_queue_seconds=queue_wall * emulator.config.speed)
    start = time.monotonic()
    cancelled = created(emulator, ark_body("a cancelled clip", seed=1))
    assert ark_delete(emulator, cancelled).status_code == 200
    assert time.monotonic() - start < queue_wall, "too slow to cancel while queued; the test proves nothing"
    # A second task runs and succeeds after the first one's queue time is over: its render is the only one.
    emulator.configure(ark_queue_seconds=0.0)
    other = created(emulator, ark_body("a clip that runs", seed=2))
    wait_status(emulator, other, {"succeeded"})
    while time.monotonic() < start + queue_wall + 0.5:  # the recorded end of the cancelled queue
        assert ark_get(emulator, cancelled).json()["status"] == "cancelled"
        time.sleep(0.05)
    stats = emulator.stats()
    assert stats["renders"] == 1
    assert stats["ark_billed_tokens"] == ark_get(emulator, other).json()["usage"]["completion_tokens"]
    assert ark_get(emulator, cancelled).json()["usage"]["completion_tokens"] == 0
    video = requests.get(f"{emulator.base_url}/files/videos/{cancelled}.mp4", timeout=10)
    assert video.status_code == 404


def test_cancel_of_a_running_task_is_refused_and_it_keeps_running(emulator: Emulator) -> None:
    emulator.configure(ark_queue_seconds=0.0, speed=0.2)  # about 20 s of running
    task_id = created(emulator)
    assert wait_status(emulator, task_id, {"running", "succeeded"})["status"] == "running"
    reply = ark_delete(emulator, task_id)
    assert_ark_error(reply, 400, "InvalidAction.TaskNotCancellable", "id")
    assert "running" in reply.json()["error"]["message"]
    assert ark_get(emulator, task_id).json()["status"] == "running"
    assert emulator.stats()["ark_cancels"] == 0


def test_delete_of_a_finished_task_forgets_its_record_but_not_its_bill(emulator: Emulator) -> None:
    task_id = created(emulator)
    done = wait_status(emulator, task_id, {"succeeded"})
    billed = emulator.stats()["ark_billed_tokens"]
    assert billed == done["usage"]["completion_tokens"] > 0
    reply = ark_delete(emulator, task_id)
    assert reply.status_code == 200
    assert reply.json() == {}
    assert_ark_error(ark_get(emulator, task_id), 404, "ResourceNotFound", "id")
    assert_ark_error(ark_delete(emulator, task_id), 404, "ResourceNotFound")
    assert ark_list(emulator)["total"] == 0
    assert emulator.stats()["ark_billed_tokens"] == billed
    assert requests.get(done["content"]["video_url"], timeout=30).status_code == 200  # the URL lives on


def test_failed_task_has_an_error_and_zero_tokens_and_can_be_deleted(emulator: Emulator) -> None:
    task_id = created(emulator, ark_body("please failme now"))
    task = wait_status(emulator, task_id, {"succeeded", "failed"})
    assert task["status"] == "failed"
    assert task["error"]["code"] == "InternalServiceError"
    assert task["error"]["message"]
    assert task["usage"]["completion_tokens"] == 0
    assert ark_delete(emulator, task_id).status_code == 200
    assert ark_get(emulator, task_id).status_code == 404


# ---- list -----------------------------------------------------------------------------------------
def test_list_with_each_filter_and_paging(emulator: Emulator) -> None:
    hold_in_queue(emulator)
    pro = [created(emulator, ark_body(f"clip {i}", seed=i)) for i in range(3)]
    two = [created(emulator, ark_body(f"two {i}", model=SEEDANCE_20, seed=i)) for i in range(2)]
    flex = created(emulator, ark_body("offline", service_tier="flex"))
    assert ark_delete(emulator, pro[0]).status_code == 200
    newest_first = [flex, *reversed(two), *reversed(pro)]

    everything = ark_list(emulator)
    assert everything["total"] == 6
    assert [t["id"] for t in everything["items"]] == newest_first
    assert set(everything["items"][0]) >= ALWAYS
    pages = [ark_list(emulator, {"page_num": n, "page_size": 4}) for n in (1, 2, 3)]
    assert [len(p["items"]) for p in pages] == [4, 2, 0]
    assert all(p["total"] == 6 for p in pages)
    assert [t["id"] for p in pages for t in p["items"]] == newest_first

    def ids(params: dict[str, Any] | list[tuple[str, str]]) -> list[str]:
        return [t["id"] for t in ark_list(emulator, params)["items"]]

    assert ids({"filter.status": "cancelled"}) == [pro[0]]
    assert ids({"filter.status": "queued"}) == [i for i in newest_first if i != pro[0]]
    assert ids({"filter.status": "succeeded"}) == []
    assert ids({"filter.model": SEEDANCE_20}) == list(reversed(two))
    assert ids([("filter.task_ids", pro[1]), ("filter.task_ids", two[0])]) == [two[0], pro[1]]
    assert ids({"filter.task_ids": f"{pro[2]},{flex}"}) == [flex, pro[2]]
    assert ids({"filter.service_tier": "flex"}) == [flex]
    assert ark_get(emulator, flex).json()["service_tier"] == "flex"
    assert ids({"filter.status": "queued", "filter.model": PRO_15}) == [flex, pro[2], pro[1]]


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"page_size": "0"}, "page_size"),
        ({"page_num": "x"}, "page_num"),
        ({"filter.status": "done"}, "filter.status"),
    ],
)
def test_list_refuses_bad_paging_and_statuses(emulator: Emulator, params: dict[str, str], param: str) -> None:
    reply = requests.get(tasks_url(emulator), params=params, headers=auth(emulator), timeout=10)
    assert_ark_error(reply, 400, "InvalidParameter", param)


# ---- expiry and the queue limit ------------------------------------------------------------------------
def test_task_still_queued_past_execution_expires_after_expires_unbilled(emulator: Emulator) -> None:
    # At speed 3600 an hour is a second: the shortest window Ark allows (3600 s) passes in ~1 s,
    # while the queue (two emulator hours) would have let the task run after ~2 s.
    emulator.configure(speed=3600.0, ark_queue_seconds=7200.0)
    start = time.monotonic()
    task_id = created(emulator, ark_body(execution_expires_after=3600))
    first = ark_get(emulator, task_id).json()
    assert first["status"] == "queued"
    assert first["execution_expires_after"] == 3600
    task = wait_status(emulator, task_id, {"expired"}, limit=30)
    assert task["updated_at"] - task["created_at"] <= 2
    assert task["usage"]["completion_tokens"] == 0
    assert "content" not in task
    while time.monotonic() < start + 2.5:  # past the recorded end of its queue: it never runs
        assert ark_get(emulator, task_id).json()["status"] == "expired"
        time.sleep(0.05)
    stats = emulator.stats()
    assert (stats["renders"], stats["ark_queued"], stats["ark_billed_tokens"]) == (0, 0, 0)
    assert ark_delete(emulator, task_id).status_code == 200  # an expired record can be deleted
    assert ark_get(emulator, task_id).status_code == 404


@pytest.mark.parametrize("value", [3599, 259_201, "3600", 1.5])
def test_execution_expires_after_outside_arks_range_is_refused(emulator: Emulator, value: Any) -> None:
    reply = ark_create(emulator, ark_body(execution_expires_after=value))
    assert_ark_error(reply, 400, "InvalidParameter", "execution_expires_after")


def test_120_queued_tasks_per_account_then_quota_exceeded(emulator: Emulator) -> None:
    hold_in_queue(emulator)
    first = [created(emulator, ark_body(f"queued {i}")) for i in range(120)]
    assert emulator.stats()["ark_queued"] == 120
    reply = ark_create(emulator, ark_body("one too many"))
    assert_ark_error(reply, 429, "QuotaExceeded")
    assert reply.json()["error"]["type"] == "TooManyRequests"
    assert "120" in reply.json()["error"]["message"]
    stats = emulator.stats()
    assert (stats["ark_creates"], stats["ark_queued"]) == (120, 120)
    # Cancelling one frees a place in the queue.
    assert ark_delete(emulator, first[0]).status_code == 200
    created(emulator, ark_body("now it fits"))
    assert emulator.stats()["ark_queued"] == 120


def test_the_queue_limit_is_a_knob(emulator: Emulator) -> None:
    hold_in_queue(emulator)
    emulator.configure(ark_max_queued=2)
    created(emulator)
    created(emulator)
    assert_ark_error(ark_create(emulator), 429, "QuotaExceeded")


# ---- errors and faults -----------------------------------------------------------------------------
@pytest.mark.parametrize("header", [None, "Bearer ", "Basic abc"], ids=["missing", "empty", "wrong-scheme"])
def test_missing_key_is_arks_401(emulator: Emulator, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    reply = requests.post(tasks_url(emulator), json=ark_body(), headers=headers, timeout=10)
    assert_ark_error(reply, 401, "AuthenticationError")
    assert reply.json()["error"]["type"] == "Unauthorized"
    assert emulator.stats()["ark_creates"] == 0


def test_same_key_as_the_gateway_side(emulator: Emulator) -> None:
    emulator.configure(api_key="sk-the-only-key")
    wrong = requests.get(tasks_url(emulator), headers={"Authorization": "Bearer sk-wrong"}, timeout=10)
    assert_ark_error(wrong, 401, "AuthenticationError")
    assert "sk-wrong" not in wrong.text
    right = requests.get(tasks_url(emulator), headers={"Authorization": "Bearer sk-the-only-key"}, timeout=10)
    assert right.status_code == 200


@pytest.mark.parametrize(
    ("payload", "status", "code", "param"),
    [
        ({"content": [{"type": "text", "text": "x"}]}, 400, "MissingParameter", "model"),
        ({"model": PRO_15}, 400, "MissingParameter", "content"),
        (ark_body(model="doubao-seedance-9-9-999999"), 404, "InvalidEndpointOrModel.NotFound", "model"),
        (ark_body(model="doubao-seedance-1-5-pro"), 404, "InvalidEndpointOrModel.NotFound", "model"),
        (ark_body(ratio="5:4"), 400, "InvalidParameter", None),
        (ark_body(duration=99), 400, "InvalidParameter", "duration"),
        (ark_body(service_tier="turbo"), 400, "InvalidParameter", "service_tier"),
        (ark_body("something forbidden here"), 400, "InputTextSensitiveContentDetected", None),
        (["not", "an", "object"], 400, "InvalidParameter", "body"),
    ],
    ids=[
        "no-model",
        "no-content",
        "unknown-model",
        "gateway-id",
        "bad-ratio",
        "bad-duration",
        "bad-tier",
        "sensitive",
        "not-object",
    ],
)
def test_refusals_use_arks_error_shape_and_make_no_task(
    emulator: Emulator, payload: Any, status: int, code: str, param: str | None
) -> None:
    reply = requests.post(tasks_url(emulator), json=payload, headers=auth(emulator), timeout=10)
    assert_ark_error(reply, status, code, param)
    assert emulator.stats()["ark_creates"] == 0


def test_unknown_task_is_arks_404(emulator: Emulator) -> None:
    assert_ark_error(ark_get(emulator, "cgt-20990101000000-nope0"), 404, "ResourceNotFound", "id")
    assert_ark_error(ark_delete(emulator, "cgt-20990101000000-nope0"), 404, "ResourceNotFound", "id")


def test_fault_knobs_answer_on_ark_routes_with_arks_codes(emulator: Emulator) -> None:
    emulator.fail_next("create", "429")
    reply = ark_create(emulator)
    assert_ark_error(reply, 429, "ModelAccountRpmRateLimitExceeded")
    assert reply.headers["Retry-After"] == "1"
    assert emulator.stats()["ark_creates"] == 0  # refused before the route: nothing was made
    task_id = created(emulator)
    emulator.configure(ark_rate_limit_code="ServerOverloaded")
    emulator.fail_next("get", "429")
    assert_ark_error(ark_get(emulator, task_id), 429, "ServerOverloaded")
    emulator.fail_next("get", "500")
    assert_ark_error(
        requests.get(tasks_url(emulator), headers=auth(emulator), timeout=10), 500, "InternalServiceError"
    )
    emulator.fail_next("get", "503")
    assert_ark_error(ark_delete(emulator, task_id), 503, "ServerOverloaded")
    assert ark_get(emulator, task_id).status_code == 200


def test_a_reset_create_has_made_its_task(emulator: Emulator) -> None:
    """The case a client must never re-send blindly: no reply, yet the task exists (and is listed)."""
    hold_in_queue(emulator)
    emulator.fail_next("create", "reset")
    with pytest.raises(requests.ConnectionError):
        ark_create(emulator)
    assert emulator.stats()["ark_creates"] == 1
    listed = ark_list(emulator)
    assert listed["total"] == 1
    assert listed["items"][0]["status"] == "queued"


def test_reset_stats_zeroes_the_ark_counters_but_not_the_bill(emulator: Emulator) -> None:
    done = wait_status(emulator, created(emulator), {"succeeded"})
    hold_in_queue(emulator)
    assert ark_delete(emulator, created(emulator, ark_body("later", seed=9))).status_code == 200
    requests.post(f"{emulator.base_url}/_emulator/reset", timeout=10).raise_for_status()
    stats = emulator.stats()
    assert (stats["ark_creates"], stats["ark_cancels"]) == (0, 0)
    # Like "tasks", the bill is a fact about the tasks that exist, not a request counter.
    assert stats["ark_billed_tokens"] == done["usage"]["completion_tokens"]


def test_ark_knobs_are_validated() -> None:
    with pytest.raises(ValueError, match="ark_rate_limit_code"):
        EmulatorConfig(ark_rate_limit_code="TooFast")
    with pytest.raises(ValueError, match="ark_max_queued"):
        EmulatorConfig(ark_max_queued=0)
    with pytest.raises(ValueError, match="ark_queue_seconds"):
        EmulatorConfig(ark_queue_seconds=-1)


# ---- the two sides stay apart ----------------------------------------------------------------------
def test_gateway_and_ark_sides_do_not_see_each_others_tasks(emulator: Emulator) -> None:
    ark_id = created(emulator)
    gateway = create(emulator, body())
    assert gateway.status_code == 200
    assert poll(emulator, ark_id).status_code == 404
    assert ark_get(emulator, gateway.json()["id"]).status_code == 404
    stats = emulator.stats()
    assert (stats["tasks"], stats["ark_creates"], stats["create"]) == (1, 1, 2)


def test_the_projects_ark_client_round_trips_against_the_emulator(emulator: Emulator) -> None:
    """The api layer's Ark client (ARK_BASE_URL = <emulator>/api/v3) reads every reply shape here."""
    client = SeedanceClient(api_key=emulator.api_key, base_url=f"{emulator.base_url}/api/v3", provider="ark")
    request = GenerationRequest(
        prompt="a red ball", duration=4, aspect_ratio="1:1", resolution="480p", audio=False, seed=3
    )
    try:
        task = client.create(request)
        while not task.is_final:
            time.sleep(0.02)
            task = client.get(task.id)
        assert task.status == COMPLETED
        assert task.usage_tokens == completion_tokens(640, 640, 24, 4)
        emulator.configure(ark_queue_seconds=3600.0)
        queued = client.create(request.replace(seed=4, service_tier="flex"))
        assert client.cancel(queued.id).outcome == "cancelled"
        again = client.get(queued.id)
        assert (again.status, again.usage_tokens, again.service_tier) == (CANCELLED, 0, "flex")
        assert [t.id for t in client.list_tasks()] == [queued.id, task.id]
        assert [t.id for t in client.list_tasks(status=CANCELLED)] == [queued.id]
    finally:
        client.close()
    assert emulator.stats()["ark_billed_tokens"] == task.usage_tokens

"""The job engine on Ark (issue 14), against the real emulator's Ark side (``/api/v3``).

Money promises guarded here: a cancel sends DELETE only for a task the provider still calls
queued (a DELETE of a finished task deletes it; of a running one it is refused), and a cancelled
queued task is never billed; a lost create reply on Ark is never re-sent (Ark finds no task by an
id of ours: the job ends ``may_exist`` and points at the task list); the budget counts the real
cost once the provider reports it; at most ``ark_max_queued`` of our tasks wait in Ark's queue.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_support import GatewayProxy, wait_for

from seedance_widgets import backend, python_api
from seedance_widgets.api import GenerationRequest, SeedanceClient, SeedanceError, ValidationError, catalog
from seedance_widgets.emulator import Emulator, EmulatorConfig
from seedance_widgets.emulator.mp4 import RenderSpec, render_mp4
from seedance_widgets.engine import Job, JobManager, JobState

#: Long enough that a task is still queued whenever the test looks (emulator seconds).
FOREVER = 100_000.0
ARK_PATH = "/api/v3"
TASKS = ARK_PATH + "/contents/generations/tasks"


def _request(prompt: str = "a paper boat on a rain gutter", **fields: Any) -> GenerationRequest:
    fields.setdefault("duration", 4)
    fields.setdefault("resolution", "480p")
    return GenerationRequest(prompt=prompt, **fields)


def _ark_client(base_url: str | None = None, **kwargs: Any) -> SeedanceClient:
    """A client built as the backend builds one in Ark mode (key and URL from the environment)."""
    return SeedanceClient(base_url=base_url, provider="ark", **kwargs)


@pytest.fixture
def ark_manager(ark_env: Emulator, make_manager: Callable[..., JobManager]) -> Callable[..., JobManager]:
    """``make_manager`` (all shut down after, no thread left) with a client that speaks Ark to the
    test's emulator (``ark_env`` is that emulator, in Ark mode)."""

    def make(output_dir: Path | None = None, **kwargs: Any) -> JobManager:
        kwargs.setdefault("client", _ark_client())
        return make_manager(output_dir, **kwargs)

    return make


def _records(folder: Path, job: Job | None = None) -> list[dict[str, Any]]:
    lines = (folder / "ledger.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    return [r for r in records if job is None or r.get("job") == job.local_id]


def _proxy(emulator: Emulator) -> GatewayProxy:
    """A recording proxy in front of the emulator that forwards DELETE too (Ark's cancel)."""
    proxy = GatewayProxy(emulator.base_url)
    handler = proxy._server.RequestHandlerClass
    handler.do_DELETE = handler.do_GET  # type: ignore[attr-defined]
    return proxy


def _deletes(proxy: GatewayProxy) -> list[str]:
    return [hit.path for hit in proxy.hits if hit.method == "DELETE"]


def _queued(job: Job) -> None:
    wait_for(lambda: job.snapshot().state == JobState.QUEUED and job.task_id is not None, what="task queued")


def _submitted(manager: JobManager, request: GenerationRequest | None = None) -> Job:
    """``request`` (by default a small one) submitted: a new job, not a saved video."""
    job = manager.submit(request or _request())
    assert isinstance(job, Job), job
    return job


@contextlib.contextmanager
def _through_proxy(
    emulator: Emulator, ark_manager: Callable[..., JobManager], **settings: Any
) -> Iterator[tuple[GatewayProxy, JobManager]]:
    """A recording proxy (``_proxy``) and a manager whose Ark client goes through it; the proxy is
    closed after (the ``ark_manager`` fixture shuts the manager down)."""
    proxy = _proxy(emulator)
    try:
        yield proxy, ark_manager(client=_ark_client(proxy.base_url + ARK_PATH), **settings)
    finally:
        proxy.close()


# ---- provider choice ------------------------------------------------------------------------------
_KEYS = (
    "TOAPIS_API_KEY",
    "ARK_API_KEY",
    "SEEDANCE_PROVIDER",
    "SEEDANCE_BASE_URL",
    "ARK_BASE_URL",
    "ARK_REGION",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in _KEYS:
        monkeypatch.delenv(name, raising=False)
    yield monkeypatch
    backend.set_preferences()


@pytest.mark.parametrize(
    ("env", "preference", "provider"),
    [
        ({"ARK_API_KEY": "ark-key-0123456789abcdef"}, None, "ark"),
        ({"TOAPIS_API_KEY": "toapis-key-0123456789ab"}, None, "toapis"),
        ({"TOAPIS_API_KEY": "toapis-key-0123456789ab"}, "ark", "toapis"),  # one key: its provider
        (
            {"ARK_API_KEY": "ark-key-0123456789abcdef", "TOAPIS_API_KEY": "toapis-key-0123456789ab"},
            None,
            "toapis",
        ),
        (
            {"ARK_API_KEY": "ark-key-0123456789abcdef", "TOAPIS_API_KEY": "toapis-key-0123456789ab"},
            "ark",
            "ark",
        ),
        (
            {
                "ARK_API_KEY": "ark-key-0123456789abcdef",
                "TOAPIS_API_KEY": "toapis-key-0123456789ab",
                "SEEDANCE_PROVIDER": "toapis",
            },
            "ark",
            "toapis",  # the environment wins over the config
        ),
        ({}, None, "toapis"),
        ({"SEEDANCE_PROVIDER": "ark"}, None, "ark"),
    ],
)
def test_the_provider_follows_the_keys_then_the_environment_then_the_config(
    clean_env: pytest.MonkeyPatch, env: dict[str, str], preference: str | None, provider: str
) -> None:
    for name, value in env.items():
        clean_env.setenv(name, value)
    backend.set_preferences(provider=preference)
    assert backend.chosen_provider() == provider


def test_an_ark_key_makes_an_ark_client_that_names_provider_and_region_never_the_key(
    clean_env: pytest.MonkeyPatch,
) -> None:
    key = "ark-secret-key-0123456789abcdef"
    clean_env.setenv("ARK_API_KEY", key)
    client = backend.resolve_client()
    assert client.provider == "ark"
    assert client.base_url == "https://ark.cn-beijing.volces.com/api/v3"
    said = backend.describe_backend(client)
    assert "Ark" in said
    assert "volcengine" in said
    assert key not in said
    clean_env.setenv("ARK_BASE_URL", "https://ark.ap-southeast.bytepluses.com/api/v3")
    client = backend.resolve_client()
    assert client.region == "bytepluses"
    assert "bytepluses" in backend.describe_backend(client)


def test_a_provider_named_without_its_key_is_refused_not_swapped(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("TOAPIS_API_KEY", "toapis-key-0123456789ab")
    clean_env.setenv("SEEDANCE_PROVIDER", "ark")
    with pytest.raises(SeedanceError, match="ARK_API_KEY is not set"):
        backend.resolve_client()
    clean_env.setenv("SEEDANCE_PROVIDER", "bedrock")
    with pytest.raises(ValidationError, match="SEEDANCE_PROVIDER"):
        backend.chosen_provider()


def test_without_keys_ark_chosen_uses_the_builtin_emulators_ark_side(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SEEDANCE_PROVIDER", "ark")
    client = backend.resolve_client()
    assert client.provider == "ark"
    assert client.base_url.startswith("http://127.0.0.1:")
    assert client.base_url.endswith(ARK_PATH)
    assert "emulator" in backend.describe_backend(client)
    task = client.create(_request("a test pattern"))
    assert task.id.startswith("cgt-")


def test_a_model_ark_lacks_is_refused_before_anything_is_sent(
    ark_env: Emulator, ark_manager: Callable[..., JobManager]
) -> None:
    manager = ark_manager(client=_ark_client(region="bytepluses"))
    lacking = next(s for s in catalog.MODELS.values() if s.ark_ids and "bytepluses" not in s.ark_ids)
    with pytest.raises(ValidationError, match=r"volcengine|ToAPIs"):
        manager.submit(_request(model=lacking.id, duration=lacking.default_duration))
    assert ark_env.stats()["ark_creates"] == 0
    assert not manager.jobs()
    flex_on_toapis = JobManager(
        manager.store.root.parent / "toapis",
        client=SeedanceClient(api_key=ark_env.api_key, base_url=ark_env.base_url),
    )
    try:
        with pytest.raises(ValidationError, match="Ark"):
            flex_on_toapis.submit(_request(service_tier="flex"))
    finally:
        flex_on_toapis.shutdown()


def test_a_local_reference_video_is_refused_on_ark_before_anything_is_sent(
    ark_env: Emulator, ark_manager: Callable[..., JobManager], tmp_path: Path
) -> None:
    clip = render_mp4(
        RenderSpec(prompt="a reference clip", width=320, height=180, duration=3, audio=False, seed=1),
        tmp_path / "reference.mp4",
    )
    manager = ark_manager()
    request = GenerationRequest(prompt="the dancer from the clip", model="doubao-seedance-2-0", duration=4)
    with pytest.raises(ValidationError, match="no upload endpoint"):
        manager.submit(request, media=[("reference_video", clip)])
    assert ark_env.stats()["ark_creates"] == 0
    assert not manager.jobs()


# ---- a job on Ark, its real cost, restore ---------------------------------------------------------
def test_an_ark_job_ends_done_with_its_tokens_and_real_cost_in_snapshot_ledger_and_budget(
    ark_env: Emulator, ark_manager: Callable[..., JobManager], tmp_outputs: Path
) -> None:
    manager = ark_manager()
    request = _request()
    job = manager.submit(request)
    assert isinstance(job, Job)
    path = job.wait(60)
    snap = job.snapshot()
    assert path.is_file()
    assert snap.task_id is not None
    assert snap.task_id.startswith("cgt-")
    width, height = request.size
    fps = request.spec.fps
    assert fps is not None
    tokens = round(width * height * fps * request.duration / 1024)
    assert snap.usage_tokens == tokens
    cost = catalog.cost_from_tokens(request.spec, tokens, audio=request.audio)
    assert cost is not None
    assert snap.cost_usd == cost
    assert snap.cost_estimate is not None
    assert snap.cost_estimate != cost
    assert f"billed {tokens} tokens" in snap.status_line()
    # The budget counts what was billed, not the estimate, once it is known.
    assert manager.spent_usd == round(cost, 4)
    records = _records(tmp_outputs, job)
    assert {r["protocol"] for r in records if "protocol" in r} == {"ark"}
    intent = next(r for r in records if r["event"] == "intent")
    assert intent.get("client_business_id") is None  # Ark has no such id
    done = next(r for r in records if r["event"] == "downloaded")
    assert (done["usage_tokens"], done["cost_usd"]) == (tokens, cost)
    assert ark_env.stats()["ark_billed_tokens"] == tokens
    manager.shutdown()
    restored = ark_manager().get(job.local_id)
    assert restored is not None
    again = restored.snapshot()
    assert (again.state, again.usage_tokens, again.cost_usd) == (JobState.DONE, tokens, cost)


def test_a_restart_on_the_other_provider_leaves_an_ark_task_alone_and_says_how_to_watch_it(
    ark_env: Emulator, ark_manager: Callable[..., JobManager]
) -> None:
    ark_env.configure(ark_queue_seconds=FOREVER)
    first = ark_manager()
    job = _submitted(first)
    _queued(job)
    first.shutdown()
    gateway = SeedanceClient(api_key=ark_env.api_key, base_url=ark_env.base_url)
    second = ark_manager(client=gateway)
    adopted = second.get(job.local_id)
    assert adopted is not None
    snap = adopted.snapshot()
    assert (snap.state, snap.error_code) == (JobState.TIMED_OUT, "other_provider")
    assert snap.error is not None
    assert f"attach({snap.task_id!r})" in snap.error
    assert gateway.request_counts["get"] == 0  # a cgt- id is never asked of the gateway
    second.shutdown()
    third = ark_manager()
    again = python_api.attach(str(job.task_id), manager=third)
    _queued(again)
    assert again.cancel(wait=True, timeout=60).outcome == "cancelled"


@pytest.mark.parametrize("provider", ["toapis", "ark"])
def test_the_same_request_again_is_the_saved_video_with_no_request_on_either_provider(
    ark_env: Emulator, ark_manager: Callable[..., JobManager], provider: str
) -> None:
    client = (
        _ark_client()
        if provider == "ark"
        else SeedanceClient(api_key=ark_env.api_key, base_url=ark_env.base_url)
    )
    manager = ark_manager(client=client)
    first = manager.submit(_request("a lighthouse at dusk"))
    assert isinstance(first, Job)
    first.wait(60)
    sent = dict(client.request_counts)
    second = manager.submit(_request("a lighthouse at dusk"))
    assert isinstance(second, Job)
    assert second.snapshot().from_cache
    assert second.result == first.result
    assert client.request_counts == sent


# ---- cancel that means it ---------------------------------------------------------------------------
def test_cancelling_a_queued_ark_job_cancels_the_task_there_and_nothing_is_billed(
    ark_env: Emulator, ark_manager: Callable[..., JobManager], tmp_outputs: Path
) -> None:
    ark_env.configure(ark_queue_seconds=FOREVER)
    with _through_proxy(ark_env, ark_manager, budget_usd=0.05) as (proxy, manager):
        job = _submitted(manager)
        _queued(job)
        job.cancel(wait=True, timeout=60)  # sent by the engine's workers (see test_ark_cancel_async.py)
        snap = job.snapshot()
        assert snap.state == JobState.CANCELLED
        assert snap.cancel_outcome == "cancelled"
        assert snap.error is not None
        assert "not billed" in snap.error
        assert (snap.usage_tokens, snap.cost_usd) == (0, 0.0)
        assert _deletes(proxy) == [f"{TASKS}/{snap.task_id}"]
        stats = ark_env.stats()
        assert (stats["ark_cancels"], stats["ark_billed_tokens"], stats["ark_queued"]) == (1, 0, 0)
        task = _ark_client().get(snap.task_id)  # type: ignore[arg-type]
        assert task.status == "cancelled"
        assert task.usage_tokens == 0
        ended = [r for r in _records(tmp_outputs, job) if r["event"] == "cancelled"]
        assert ended[-1]["cancel_outcome"] == "cancelled"
        # Nothing was billed, so the budget has it all back: the same again fits.
        assert manager.spent_usd == 0.0
        other = manager.submit(_request("a second paper boat"))
        assert isinstance(other, Job)
        other.cancel()  # before or while its create is sent: either way nothing is billed
        wait_for(lambda: other.snapshot().cancel_outcome in ("not_sent", "cancelled"), what="other cancelled")


def test_a_cancel_while_the_create_is_on_the_wire_cancels_the_task_at_ark_once_it_exists(
    ark_env: Emulator, ark_manager: Callable[..., JobManager], tmp_outputs: Path
) -> None:
    ark_env.configure(ark_queue_seconds=FOREVER)
    with _through_proxy(ark_env, ark_manager) as (proxy, manager):
        held = proxy.hold_next("other")
        job = _submitted(manager)
        assert held.arrived.wait(20)  # Ark has made the task; its reply is held
        job.cancel()
        assert job.snapshot().state == JobState.CANCELLED
        held.release.set()
        wait_for(lambda: job.snapshot().cancel_outcome == "cancelled", what="cancelled at Ark")
        snap = job.snapshot()
        assert snap.error is not None
        assert "not billed" in snap.error
        assert snap.task_id is not None
        assert _deletes(proxy) == [f"{TASKS}/{snap.task_id}"]
        stats = ark_env.stats()
        assert (stats["ark_creates"], stats["ark_cancels"], stats["ark_billed_tokens"]) == (1, 1, 0)
        assert manager.spent_usd == 0.0
        assert _records(tmp_outputs, job)[-1]["cancel_outcome"] == "cancelled"


@pytest.fixture
def slow_ark(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """An emulator at real speed whose Ark tasks start at once and run for seconds."""
    with Emulator(EmulatorConfig(speed=1.0, ark_queue_seconds=0.0)) as emu:
        for name in ("TOAPIS_API_KEY", "SEEDANCE_BASE_URL", "SEEDANCE_PROVIDER", "ARK_REGION"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("ARK_API_KEY", emu.api_key)
        monkeypatch.setenv("ARK_BASE_URL", emu.base_url + ARK_PATH)
        yield emu


def test_a_running_ark_job_cannot_be_cancelled_stays_watched_and_a_second_cancel_stops_watching(
    slow_ark: Emulator, tmp_outputs: Path
) -> None:
    proxy = _proxy(slow_ark)
    # Polls 20x more often than the real gateway needs, so the test sees the task running.
    manager = JobManager(tmp_outputs, client=_ark_client(proxy.base_url + ARK_PATH), time_scale=20.0)
    try:
        kept = manager.submit(_request("a kite over a field"))
        dropped = manager.submit(_request("a kite over a lake"))
        assert isinstance(kept, Job)
        assert isinstance(dropped, Job)
        for job in (kept, dropped):
            wait_for(lambda job=job: job.snapshot().state == JobState.RUNNING, what="task running")  # type: ignore[misc]
            job.cancel(wait=True, timeout=60)
            snap = job.snapshot()
            assert snap.cancel_outcome == "not_cancellable"
            assert not snap.is_final
            assert snap.error is not None
            assert "cannot cancel a task once it is running" in snap.error
        assert _deletes(proxy) == []  # never a DELETE for a running task
        dropped.cancel()
        snap = dropped.snapshot()
        assert (snap.state, snap.cancel_outcome) == (JobState.CANCELLED, "stopped_watching")
        assert snap.error is not None
        assert "billed" in snap.error
        kept.wait(60)  # still watched: its video is saved
        assert kept.snapshot().usage_tokens
        assert _deletes(proxy) == []
    finally:
        manager.shutdown()
        proxy.close()


def test_cancelling_a_finished_ark_job_never_deletes_its_task(
    ark_env: Emulator, ark_manager: Callable[..., JobManager]
) -> None:
    with _through_proxy(ark_env, ark_manager) as (proxy, manager):
        job = _submitted(manager)
        job.wait(60)
        job.cancel()
        assert job.snapshot().state == JobState.DONE
        assert _deletes(proxy) == []
        assert _ark_client().get(job.task_id).status == "completed"  # type: ignore[arg-type]


# ---- a lost create reply ---------------------------------------------------------------------------
def test_a_lost_ark_create_reply_is_may_exist_never_resent_and_found_in_the_task_list(
    ark_env: Emulator, ark_manager: Callable[..., JobManager]
) -> None:
    with _through_proxy(ark_env, ark_manager) as (proxy, manager):
        # The create reaches Ark and makes its task; its reply comes back unusable.
        proxy.rewrite_next("other", lambda reply: (200, {"Content-Type": "application/json"}, b"{"))
        job = _submitted(manager)
        wait_for(lambda: job.snapshot().is_final, what="job ended")
        snap = job.snapshot()
        assert snap.state == JobState.MAY_EXIST
        assert snap.error is not None
        assert "%seedance tasks" in snap.error
        assert "remote_tasks()" in snap.error
        assert ark_env.stats()["ark_creates"] == 1
        assert [h.method for h in proxy.hits] == ["POST"]  # no second create, no lookup
        tasks = python_api.remote_tasks(manager=manager)
        assert len(tasks) == 1
        assert tasks[0].id.startswith("cgt-")
        assert tasks[0].id in repr(tasks)
        assert tasks[0].id in tasks._repr_html_()
        found = tasks.attach(0)
        found.wait(60)
        assert found.snapshot().usage_tokens
        assert ark_env.stats()["ark_creates"] == 1


def test_remote_tasks_escape_what_the_provider_says_and_attach_by_ark_id(
    ark_env: Emulator, ark_manager: Callable[..., JobManager]
) -> None:
    with _through_proxy(ark_env, ark_manager) as (proxy, manager):
        job = _submitted(manager)
        job.wait(60)

        def hostile(reply: tuple[int, dict[str, str], bytes]) -> tuple[int, dict[str, str], bytes]:
            status, headers, body = reply
            data = json.loads(body)
            for item in data.get("items", []):
                item["model"] = "<img src=x onerror=alert(1)>"
            return status, headers, json.dumps(data).encode()

        proxy.rewrite_next("other", hostile)
        tasks = python_api.remote_tasks(manager=manager, status="succeeded")
        assert [t.id for t in tasks] == [job.task_id]
        shown = tasks._repr_html_()
        assert "<img" not in shown
        assert "&lt;img" in shown
        assert python_api.attach(str(job.task_id), manager=manager) is job  # known: the same job
        other = ark_manager(manager.store.root.parent / "elsewhere")
        attached = python_api.attach(str(job.task_id), manager=other)
        attached.wait(60)
        assert attached.snapshot().usage_tokens == job.snapshot().usage_tokens


def test_the_gateway_has_no_task_list_and_says_who_has(
    ark_env: Emulator, ark_manager: Callable[..., JobManager]
) -> None:
    manager = ark_manager(client=SeedanceClient(api_key=ark_env.api_key, base_url=ark_env.base_url))
    with pytest.raises(SeedanceError, match="Ark"):
        python_api.remote_tasks(manager=manager)


# ---- the account's queue -------------------------------------------------------------------------
def test_beyond_the_queue_limit_jobs_wait_visibly_and_go_when_a_place_frees(
    ark_env: Emulator, ark_manager: Callable[..., JobManager]
) -> None:
    ark_env.configure(ark_queue_seconds=FOREVER)
    manager = ark_manager()
    manager.ark_max_queued = 1
    first = manager.submit(_request("first in line"))
    second = manager.submit(_request("second in line"))
    assert isinstance(first, Job)
    assert isinstance(second, Job)
    _queued(first)
    snap = second.snapshot()
    assert (snap.state, snap.error_code) == (JobState.INTENT, "waiting_for_queue")
    assert snap.error is not None
    assert "Ark's queue" in snap.error
    assert ark_env.stats()["ark_creates"] == 1
    first.cancel()  # cancelled at Ark: its place frees, the second is sent
    _queued(second)
    assert second.snapshot().error_code is None
    assert ark_env.stats()["ark_creates"] == 2
    second.cancel()
    assert ark_env.stats()["ark_billed_tokens"] == 0


def test_an_ark_429_backs_off_the_account_then_the_create_goes_once(
    ark_env: Emulator, ark_manager: Callable[..., JobManager]
) -> None:
    ark_env.fail_next("create", "429")
    manager = ark_manager()
    job = _submitted(manager)
    seen: list[str | None] = []
    job.subscribe(lambda snap: seen.append(snap.error_code))
    job.wait(60)
    assert "rate_limited" in seen
    assert ark_env.stats()["ark_creates"] == 1


# ---- flex ------------------------------------------------------------------------------------------
def test_a_flex_job_is_watched_past_the_deadline_for_its_queue_window(
    ark_env: Emulator, ark_manager: Callable[..., JobManager]
) -> None:
    ark_env.configure(ark_queue_seconds=FOREVER)
    manager = ark_manager(deadline_s=2.0)
    flex = python_api.generate(
        "a slow tide, offline", duration=4, resolution="480p", service_tier="flex", manager=manager
    )
    plain = python_api.generate("a slow tide", duration=4, resolution="480p", manager=manager)
    assert isinstance(flex, Job)
    assert isinstance(plain, Job)
    assert flex.request is not None
    assert flex.request.service_tier == "flex"
    wait_for(lambda: plain.snapshot().is_final, what="default job timed out")
    assert plain.snapshot().state == JobState.TIMED_OUT
    # Submitted first, so its plain deadline passed first too; yet it is still watched.
    assert flex.snapshot().state == JobState.QUEUED
    assert flex.cancel(wait=True, timeout=60).outcome == "cancelled"


def test_an_expired_ark_task_ends_the_job_expired_unrun_and_unbilled(
    ark_env: Emulator, ark_manager: Callable[..., JobManager]
) -> None:
    ark_env.configure(ark_queue_seconds=FOREVER)
    with _through_proxy(ark_env, ark_manager) as (proxy, manager):
        job = _submitted(manager)
        _queued(job)

        # The emulator expires a task after an hour at the least: the provider's word is rewritten.
        def expired(reply: tuple[int, dict[str, str], bytes]) -> tuple[int, dict[str, str], bytes]:
            status, headers, body = reply
            data = json.loads(body)
            if data.get("status") == "queued":
                data["status"] = "expired"
            return status, headers, json.dumps(data).encode()

        proxy.rewrite_every("other", expired)
        wait_for(lambda: job.snapshot().is_final, what="job ended")
        snap = job.snapshot()
        assert (snap.state, snap.error_code) == (JobState.EXPIRED, "task_expired")
        assert snap.error is not None
        assert "expired unrun" in snap.error
        assert "not billed" in snap.error

"""The client on Ark over real loopback HTTP (issue 14): the emulator's Ark side under /api/v3 for
what it can do, a small scripted server (hostile_server) for replies it cannot make.

Money and safety promises guarded here: a create whose reply is lost is never re-sent; the key
shows in no error, repr or log (the ``raises`` fixture and the autouse log check); flex is never
sent to the ToAPIs gateway; a local image over Ark's inline limit is refused before any call; a
finished task's record is never deleted by a cancel.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from api_support import FAST_RETRY, SECRET_KEY, SMALL, image_bytes
from hostile_server import Handler, Hostile, Seen, reply
from hostile_support import one_try_client

from seedance_widgets.api import (
    CANCELLED,
    COMPLETED,
    GenerationRequest,
    MissingKeyError,
    SeedanceClient,
    TaskMayExistError,
    UnsupportedError,
    ValidationError,
)
from seedance_widgets.api.errors import BadReplyError, RateLimitError
from seedance_widgets.api.protocols import ark
from seedance_widgets.emulator import Emulator

Raises = Callable[..., Any]


@pytest.fixture
def ark_client(gateway: Emulator, sleeps: list[float]) -> Iterator[SeedanceClient]:
    with SeedanceClient(
        SECRET_KEY,
        gateway.base_url + "/api/v3",
        provider="ark",
        timeout=(2.0, 10.0),
        retry=FAST_RETRY,
        sleep=sleeps.append,
    ) as made:
        yield made


def hostile_ark(server: Hostile, **settings: Any) -> SeedanceClient:
    return one_try_client(server.base_url + "/api/v3", provider="ark", **settings)


def finish(client: SeedanceClient, task_id: str) -> Any:
    import time

    deadline = time.monotonic() + 60
    while True:
        task = client.get(task_id)
        if task.is_final:
            return task
        assert time.monotonic() < deadline, task
        time.sleep(0.05)


# ---- choosing the provider ------------------------------------------------------------------------


def test_the_key_and_base_url_come_from_arks_variables(
    monkeypatch: pytest.MonkeyPatch, gateway: Emulator
) -> None:
    monkeypatch.delenv("TOAPIS_API_KEY", raising=False)
    monkeypatch.setenv("ARK_API_KEY", SECRET_KEY)
    monkeypatch.setenv("ARK_BASE_URL", gateway.base_url + "/api/v3/")
    client = SeedanceClient(provider="ark")
    assert (client.provider, client.region, client.base_url) == (
        "ark",
        "volcengine",
        gateway.base_url + "/api/v3",
    )
    assert (client.can_cancel, client.can_list, client.finds_by_business_id) == (True, True, False)
    assert SECRET_KEY not in repr(client)
    assert "provider='ark'" in repr(client)
    assert client.get(client.create(SMALL).id).model == SMALL.model


def test_regions_choose_the_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARK_BASE_URL", raising=False)
    monkeypatch.setenv("ARK_API_KEY", SECRET_KEY)
    assert SeedanceClient(provider="ark").base_url == ark.ARK_BASE_URLS["volcengine"]
    byteplus = SeedanceClient(provider="ark", region="bytepluses")
    assert byteplus.base_url == "https://ark.ap-southeast.bytepluses.com/api/v3"
    inferred = SeedanceClient(base_url="https://ark.ap-southeast.bytepluses.com/api/v3", provider="ark")
    assert inferred.region == "bytepluses"
    with pytest.raises(ValidationError, match="volcengine, bytepluses"):
        SeedanceClient(provider="ark", region="moon")
    with pytest.raises(ValidationError, match="regions are Ark's"):
        SeedanceClient(SECRET_KEY, provider="toapis", region="bytepluses")


def test_a_missing_ark_key_names_arks_variable(monkeypatch: pytest.MonkeyPatch, raises: Raises) -> None:
    monkeypatch.delenv("ARK_API_KEY", raising=False)
    monkeypatch.setenv("TOAPIS_API_KEY", SECRET_KEY)  # the gateway's key is never used for Ark
    with raises(MissingKeyError, match="ARK_API_KEY"):
        SeedanceClient(provider="ark")


def test_the_gateway_client_is_unchanged_and_says_what_it_cannot_do(
    client: SeedanceClient, raises: Raises
) -> None:
    assert (client.provider, client.region) == ("toapis", None)
    assert (client.can_cancel, client.can_list, client.finds_by_business_id) == (False, False, True)
    with raises(UnsupportedError, match="Ark"):
        client.cancel("task_vid_1")
    with raises(UnsupportedError, match="Ark"):
        client.list_tasks()


# ---- create, get, usage ---------------------------------------------------------------------------


def test_a_task_runs_to_the_end_with_its_real_token_bill(
    ark_client: SeedanceClient, gateway: Emulator
) -> None:
    created = ark_client.create(SMALL)
    assert created.id.startswith("cgt-")
    assert (created.status, created.model, created.service_tier) == ("queued", SMALL.model, "default")
    done = finish(ark_client, created.id)
    width, height = SMALL.size
    assert done.status == COMPLETED
    assert done.video_url
    assert done.usage_tokens == round(width * height * 24 * SMALL.duration / 1024)
    assert gateway.stats()["ark_billed_tokens"] == done.usage_tokens
    assert ark_client.request_counts["create"] == 1


def test_a_lost_create_reply_is_never_sent_again(
    ark_client: SeedanceClient, gateway: Emulator, raises: Raises
) -> None:
    gateway.fail_next("create", "reset")  # the route runs (a task is made), then the connection dies
    with raises(TaskMayExistError, match="NOT sent again") as info:
        ark_client.create(SMALL)
    assert "list_tasks" in str(info.value)
    assert ark_client.request_counts["create"] == 1
    assert gateway.stats()["ark_creates"] == 1
    # ...and the task it made is there to find, so nobody pays twice.
    assert len(ark_client.list_tasks()) == 1


def test_a_429_proves_no_task_was_made_so_the_create_is_retried(
    ark_client: SeedanceClient, gateway: Emulator
) -> None:
    gateway.fail_next("create", "429")
    task = ark_client.create(SMALL)
    assert task.id.startswith("cgt-")
    assert ark_client.request_counts["create"] == 2
    assert gateway.stats()["ark_creates"] == 1


def test_a_429_that_lasts_is_a_rate_limit_error_for_the_account(
    ark_client: SeedanceClient, gateway: Emulator, raises: Raises
) -> None:
    gateway.fail_next("create", "429", count=10)
    with raises(RateLimitError) as info:
        ark_client.create(SMALL)
    assert info.value.code == "ModelAccountRpmRateLimitExceeded"
    assert gateway.stats()["ark_creates"] == 0


@pytest.mark.parametrize(
    "body",
    [b"", b"{}", b'{"id": ""}', b"[1, 2]", b'{"id": "../x"}', b"<html>oops</html>"],
    ids=["empty", "no-id", "empty-id", "list", "path-id", "html"],
)
def test_an_unusable_create_reply_means_the_task_may_exist(
    body: bytes, serve: Callable[[Handler], Hostile], raises: Raises
) -> None:
    server = serve(lambda seen: reply(200, body))
    with raises(TaskMayExistError):
        hostile_ark(server).create(SMALL)
    assert len(server.seen) == 1


def test_a_reply_echoing_the_key_does_not_leak_it(
    serve: Callable[[Handler], Hostile], raises: Raises
) -> None:
    def echo(seen: Seen) -> Any:
        sent = seen.headers.get("authorization", "")
        return reply(401, {"error": {"code": "AuthenticationError", "message": f"bad key {sent}"}})

    with raises(ark.ArkAuthenticationError, match="ARK_API_KEY"):
        hostile_ark(serve(echo)).get("cgt-1")


def test_a_get_about_another_task_is_a_bad_reply(serve: Callable[[Handler], Hostile], raises: Raises) -> None:
    server = serve(lambda seen: reply(200, {"id": "cgt-other", "status": "running"}))
    with raises(BadReplyError, match="cgt-other"):
        hostile_ark(server).get("cgt-mine")


def test_content_refusals_keep_their_code(
    ark_client: SeedanceClient, gateway: Emulator, raises: Raises
) -> None:
    from seedance_widgets.api import ContentPolicyError

    with raises(ContentPolicyError) as info:
        ark_client.create(GenerationRequest("a forbidden scene"))
    assert info.value.code == "InputTextSensitiveContentDetected"
    assert gateway.stats()["ark_creates"] == 0


# ---- flex -------------------------------------------------------------------------------------


def test_flex_goes_to_ark_with_its_window(serve: Callable[[Handler], Hostile]) -> None:
    server = serve(lambda seen: reply(200, {"id": "cgt-flex"}))
    task = hostile_ark(server).create(SMALL.replace(service_tier="flex"), execution_expires_after=7200)
    sent = json.loads(server.seen[0].body)
    assert (sent["service_tier"], sent["execution_expires_after"]) == ("flex", 7200)
    assert task.service_tier == "flex"


def test_flex_is_never_sent_to_the_gateway(client: SeedanceClient, gateway: Emulator, raises: Raises) -> None:
    with raises(ValidationError, match="Ark"):
        client.create(SMALL.replace(service_tier="flex"))
    with raises(ValidationError, match="Ark setting"):
        client.create(SMALL, execution_expires_after=3600)
    assert client.request_counts["create"] == 0
    assert gateway.stats()["create"] == 0


# ---- cancel ----------------------------------------------------------------------------------------


def test_cancelling_a_queued_task_means_it_is_never_billed(
    ark_client: SeedanceClient, gateway: Emulator
) -> None:
    gateway.configure(ark_queue_seconds=3600.0)
    task = ark_client.create(SMALL)
    result = ark_client.cancel(task.id)
    assert result.outcome == "cancelled"
    assert "not billed" in result.message
    after = ark_client.get(task.id)
    assert (after.status, after.is_final, after.usage_tokens) == (CANCELLED, True, 0)
    stats = gateway.stats()
    assert (stats["ark_cancels"], stats["ark_billed_tokens"], stats["ark_queued"]) == (1, 0, 0)
    assert ark_client.cancel(task.id).outcome == "cancelled"  # asking twice changes nothing


def test_a_finished_task_is_not_cancellable_and_its_record_stays(ark_client: SeedanceClient) -> None:
    done = finish(ark_client, ark_client.create(SMALL).id)
    result = ark_client.cancel(done.id)
    assert result.outcome == "not_cancellable"
    assert ark_client.get(done.id).status == COMPLETED  # a DELETE would have erased it


def test_an_unknown_task_is_not_found(ark_client: SeedanceClient) -> None:
    assert ark_client.cancel("cgt-nowhere").outcome == "not_found"


def test_a_task_that_started_running_before_the_delete_is_not_cancellable(
    serve: Callable[[Handler], Hostile],
) -> None:
    def handler(seen: Seen) -> Any:
        if seen.method == "GET":
            return reply(200, {"id": "cgt-1", "status": "queued"})
        body = {"error": {"code": "InvalidAction.TaskNotCancellable", "message": "task is running"}}
        return reply(400, body)

    server = serve(handler)
    result = hostile_ark(server).cancel("cgt-1")
    assert result.outcome == "not_cancellable"
    assert "running" in result.message
    assert [s.method for s in server.seen] == ["GET", "DELETE"]


def test_a_running_task_is_not_deleted(serve: Callable[[Handler], Hostile]) -> None:
    server = serve(lambda seen: reply(200, {"id": "cgt-1", "status": "running"}))
    result = hostile_ark(server).cancel("cgt-1")
    assert result.outcome == "not_cancellable"
    assert "cannot be cancelled" in result.message
    assert [s.method for s in server.seen] == ["GET"]


# ---- list ----------------------------------------------------------------------------------------


def test_list_filters_by_status_model_and_ids(ark_client: SeedanceClient, gateway: Emulator) -> None:
    gateway.configure(ark_queue_seconds=3600.0)
    first = ark_client.create(SMALL)
    second = ark_client.create(SMALL.replace(seed=8))
    ark_client.cancel(first.id)
    assert {t.id for t in ark_client.list_tasks()} == {first.id, second.id}
    assert [t.id for t in ark_client.list_tasks(status="cancelled")] == [first.id]
    assert [t.id for t in ark_client.list_tasks(status="queued", model=SMALL.model)] == [second.id]
    assert [t.id for t in ark_client.list_tasks(task_ids=[second.id])] == [second.id]
    assert ark_client.list_tasks(model="doubao-seedance-2-0") == []
    with pytest.raises(ValidationError, match="page_size"):
        ark_client.list_tasks(page_size=0)
    with pytest.raises(ValidationError, match="status"):
        ark_client.list_tasks(status="done")


def test_the_list_query_uses_the_sdks_names(serve: Callable[[Handler], Hostile]) -> None:
    server = serve(lambda seen: reply(200, {"total": 0, "items": []}))
    hostile_ark(server).list_tasks(
        status="in_progress", model="doubao-seedance-1-5-pro", task_ids=["cgt-a", "cgt-b"]
    )
    path = server.seen[0].path
    assert "filter.status=running" in path
    assert "filter.model=doubao-seedance-1-5-pro-251215" in path
    assert "filter.task_ids=cgt-a&filter.task_ids=cgt-b" in path


@pytest.mark.parametrize("body", [{"total": 1}, {"items": "x"}, [], "nope"])
def test_a_list_reply_without_items_is_a_bad_reply(
    body: Any, serve: Callable[[Handler], Hostile], raises: Raises
) -> None:
    with raises(BadReplyError, match="items"):
        hostile_ark(serve(lambda seen: reply(200, body))).list_tasks()


# ---- local media ---------------------------------------------------------------------------------


def test_a_local_image_travels_inline_as_a_data_url(ark_client: SeedanceClient, gateway: Emulator) -> None:
    png = image_bytes("PNG", (320, 320))
    stand_in = ark_client.upload_image(png, filename="frame.png")
    assert stand_in == ark.inline_url(png)
    assert ark_client.request_counts["upload"] == 0  # nothing was sent
    assert gateway.stats()["upload"] == 0
    request = SMALL.replace(image_with_roles=[{"url": stand_in, "role": "first_frame"}])
    done = finish(ark_client, ark_client.create(request).id)
    assert done.status == COMPLETED
    assert gateway.stats()["uploads"] == 1  # the emulator received the picture inside the body


def test_the_inline_body_holds_the_picture(serve: Callable[[Handler], Hostile]) -> None:
    server = serve(lambda seen: reply(200, {"id": "cgt-img"}))
    client = hostile_ark(server)
    png = image_bytes("PNG")
    request = SMALL.replace(image_with_roles=[{"url": client.upload_image(png), "role": "first_frame"}])
    client.create(request)
    sent = json.loads(server.seen[0].body)["content"][1]
    assert sent["image_url"]["url"] == ark.data_url(png)
    assert sent["role"] == "first_frame"


def test_an_image_over_the_inline_limit_is_refused_before_any_call(
    serve: Callable[[Handler], Hostile], tmp_path: Any, raises: Raises
) -> None:
    server = serve(lambda seen: reply(200, {"id": "cgt-x"}))
    big = tmp_path / "huge.png"
    big.write_bytes(image_bytes("PNG")[:16] + bytes(ark.MAX_INLINE_IMAGE_BYTES))
    client = hostile_ark(server)
    with raises(ValidationError, match="30 MB") as info:
        client.upload_image(big)
    assert "huge.png" in str(info.value)
    assert server.connections_before_mine() == 0  # not a byte went out


def test_a_local_reference_video_is_refused_with_the_reason(
    ark_client: SeedanceClient, raises: Raises
) -> None:
    with raises(ValidationError, match="no upload endpoint"):
        ark_client.upload_video(b"\x00\x00\x00\x18ftypmp42" + bytes(64), filename="move.mp4")
    assert ark_client.request_counts["upload"] == 0


def test_a_stand_in_this_client_does_not_hold_is_refused_before_sending(
    serve: Callable[[Handler], Hostile], raises: Raises
) -> None:
    server = serve(lambda seen: reply(200, {"id": "cgt-x"}))
    request = SMALL.replace(image_with_roles=[{"url": ark.inline_url(b"elsewhere"), "role": "first_frame"}])
    with raises(ValidationError, match="give the image again"):
        hostile_ark(server).create(request)
    assert server.connections_before_mine() == 0


def test_business_ids_are_not_ark_s(ark_client: SeedanceClient, raises: Raises) -> None:
    with raises(UnsupportedError, match="list_tasks"):
        ark_client.find_by_business_id("sw-1")
    with raises(ValidationError):
        ark_client.create(SMALL, client_business_id="bad id with spaces")
    assert ark_client.create(SMALL, client_business_id="sw-1").id.startswith("cgt-")

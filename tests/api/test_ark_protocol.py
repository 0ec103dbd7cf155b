"""Ark's wire format (issue 14): bodies for every catalogue model, round trips, refusals before any
call, statuses, usage, errors, and replies a hostile server could send. No network here: the
HTTP side is in test_ark_client.py."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from api_support import image_bytes

from seedance_widgets.api import (
    CANCELLED,
    COMPLETED,
    EXPIRED,
    FAILED,
    IN_PROGRESS,
    QUEUED,
    GenerationRequest,
    Task,
    ValidationError,
    catalog,
    request_estimate_usd,
)
from seedance_widgets.api.catalog import ARK_BYTEPLUS, ARK_VOLCENGINE
from seedance_widgets.api.errors import (
    AuthenticationError,
    BadRequestError,
    ContentPolicyError,
    NotFoundError,
    QuotaError,
    RateLimitError,
    ServerError,
)
from seedance_widgets.api.protocols import PROTOCOLS, ark, toapis

ARK_PAIRS = [(spec.id, region) for spec in catalog.MODELS.values() for region in spec.ark_ids]
URL = "https://files.example/{}.png"


# ---- bodies for every model --------------------------------------------------------------------


def test_the_protocol_is_registered_beside_toapis() -> None:
    assert {"toapis": toapis, "ark": ark} == PROTOCOLS
    assert ark.TASKS_PATH == "/contents/generations/tasks"
    assert ark.ARK_BASE_URLS == {
        "volcengine": "https://ark.cn-beijing.volces.com/api/v3",
        "bytepluses": "https://ark.ap-southeast.bytepluses.com/api/v3",
    }


@pytest.mark.parametrize(("model", "region"), ARK_PAIRS)
def test_every_model_with_an_ark_id_builds_a_body_that_reads_back(model: str, region: str) -> None:
    spec = catalog.MODELS[model]
    request = GenerationRequest("a fox runs through snow", model=model, seed=42)
    body = ark.build_body(request, region=region)
    assert body["model"] == spec.ark_ids[region]
    assert body["content"] == [{"type": "text", "text": "a fox runs through snow"}]
    assert (body["resolution"], body["ratio"], body["duration"], body["seed"]) == (
        request.resolution,
        request.aspect_ratio,
        request.duration,
        42,
    )
    assert ("generate_audio" in body) == (spec.audio != "none")
    assert "service_tier" not in body  # the default tier is not sent
    assert "metadata" not in body  # Ark takes every parameter at the top level
    back = ark.request_from_body(body, region=region)
    # seedance-2 and doubao-seedance-2-0 are one model on Ark: the id decides, not our name.
    assert back.spec.ark_ids[region] == spec.ark_ids[region]
    mine, theirs = request.neutral(), back.neutral()
    mine.pop("model"), theirs.pop("model")
    assert theirs == mine


def test_media_go_in_the_content_list_with_their_roles() -> None:
    request = GenerationRequest(
        "the dancer from the video, in the painted style",
        model="doubao-seedance-2-0",
        image_with_roles=[{"url": URL.format(1), "role": "reference_image"}],
        video_with_roles=[{"url": "https://files.example/move.mp4", "role": "reference_video"}],
        audio_with_roles=[{"url": "https://files.example/beat.mp3", "role": "reference_audio"}],
        return_last_frame=True,
        web_search=True,
        audio=False,
    )
    body = ark.build_body(request)
    assert body["content"][1:] == [
        {"type": "image_url", "image_url": {"url": URL.format(1)}, "role": "reference_image"},
        {
            "type": "video_url",
            "video_url": {"url": "https://files.example/move.mp4"},
            "role": "reference_video",
        },
        {
            "type": "audio_url",
            "audio_url": {"url": "https://files.example/beat.mp3"},
            "role": "reference_audio",
        },
    ]
    assert body["return_last_frame"] is True
    assert body["tools"] == [{"type": "web_search"}]
    assert body["generate_audio"] is False
    assert ark.request_from_body(body) == request


def test_images_by_count_are_sent_with_their_roles() -> None:
    request = GenerationRequest("a bridge", image_urls=[URL.format(1), URL.format(2), URL.format(3)])
    roles = [item.get("role") for item in ark.build_body(request)["content"][1:]]
    assert roles == ["first_frame", "last_frame", "reference_image"]
    assert ark.request_from_body(ark.build_body(request)).neutral() == request.neutral()


def test_fixed_camera_and_seed_use_arks_names() -> None:
    body = ark.build_body(GenerationRequest("a still lake", camera_fixed=True, seed=-1))
    assert body["camera_fixed"] is True
    assert body["seed"] == -1
    assert "camerafixed" not in body


# ---- refusals before any call ------------------------------------------------------------------


def test_a_model_ark_lacks_in_the_region_is_refused_naming_who_has_it() -> None:
    request = GenerationRequest("a fox", model="seedance-2-mini")
    with pytest.raises(ValidationError) as info:
        ark.build_body(request, region=ARK_BYTEPLUS)
    text = str(info.value)
    assert info.value.field == "model"
    assert "seedance-2-mini" in text
    assert "bytepluses" in text
    assert "Ark volcengine" in text
    assert "ToAPIs" in text
    assert catalog.ark_model_id(request.spec, ARK_VOLCENGINE) == "doubao-seedance-2-0-mini-260615"


def test_an_unknown_region_is_refused_naming_the_regions() -> None:
    with pytest.raises(ValidationError, match="volcengine, bytepluses"):
        ark.build_body(GenerationRequest("a fox"), region="mars")


@pytest.mark.parametrize("value", [3599, 259201, 0, True, "3600", 3600.0, None])
def test_the_expiry_window_is_checked(value: Any) -> None:
    if value is None:
        body = ark.build_body(GenerationRequest("a fox"), execution_expires_after=value)
        assert "execution_expires_after" not in body
        return
    with pytest.raises(ValidationError) as info:
        ark.build_body(GenerationRequest("a fox"), execution_expires_after=value)
    assert info.value.field == "execution_expires_after"
    assert "3600" in str(info.value)
    assert "259200" in str(info.value)


def test_flex_sends_its_tier_and_an_expiry_window() -> None:
    flex = GenerationRequest("a fox", service_tier="flex")
    assert ark.build_body(flex)["service_tier"] == "flex"
    assert ark.build_body(flex)["execution_expires_after"] == ark.FLEX_EXPIRES_AFTER
    assert ark.build_body(flex, execution_expires_after=3600)["execution_expires_after"] == 3600
    assert ark.request_from_body(ark.build_body(flex)) == flex


def test_the_default_tier_leaves_every_cache_key_as_it_was() -> None:
    plain = GenerationRequest("a fox")
    assert plain.service_tier == "default"
    assert "service_tier" not in plain.neutral()
    assert plain.replace(service_tier="flex").neutral()["service_tier"] == "flex"
    with pytest.raises(ValidationError, match="'default' or 'flex'"):
        GenerationRequest("a fox", service_tier="batch")


def test_the_gateway_refuses_flex_naming_ark() -> None:
    with pytest.raises(ValidationError) as info:
        toapis.build_body(GenerationRequest("a fox", service_tier="flex"))
    assert info.value.field == "service_tier"
    assert "Ark" in str(info.value)
    assert "ARK_API_KEY" in str(info.value)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "doubao-seedance-9", "content": [{"type": "text", "text": "x"}]}, "model"),
        ({"model": "doubao-seedance-1-5-pro-251215", "content": []}, "content"),
        (
            {"model": "doubao-seedance-1-5-pro-251215", "content": [{"type": "text", "text": "x"}] * 2},
            "content",
        ),
        (
            {"model": "doubao-seedance-1-5-pro-251215", "content": [{"type": "video", "text": "x"}]},
            "content.type",
        ),
        (
            {
                "model": "doubao-seedance-1-5-pro-251215",
                "content": [
                    {"type": "text", "text": "x"},
                    {"type": "image_url", "image_url": {"url": URL.format(1)}, "role": "reference"},
                ],
            },
            "content.role",
        ),
        (
            {
                "model": "doubao-seedance-1-5-pro-251215",
                "content": [{"type": "text", "text": "x"}],
                "fps": 30,
            },
            "fps",
        ),
        (
            {
                "model": "doubao-seedance-1-5-pro-251215",
                "content": [{"type": "text", "text": "x"}],
                "service_tier": "x",
            },
            "service_tier",
        ),
        ({"model": "seedance-1-5-pro-251215", "content": [{"type": "text", "text": "x"}]}, "model"),
    ],
)
def test_bodies_that_ark_would_refuse_are_refused_naming_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        ark.request_from_body(body, region=ARK_VOLCENGINE)
    assert info.value.field == field


def test_a_byteplus_id_on_volcengine_is_named_as_such() -> None:
    body = {"model": "seedance-1-5-pro-251215", "content": [{"type": "text", "text": "x"}]}
    with pytest.raises(ValidationError, match="another Ark region"):
        ark.request_from_body(body)
    assert ark.request_from_body(body, region=ARK_BYTEPLUS).model == "doubao-seedance-1-5-pro"


# ---- local images as data: URLs ------------------------------------------------------------------


def test_a_local_image_becomes_a_data_url_by_its_content() -> None:
    png = image_bytes("PNG")
    url = ark.data_url(png, "frame.jpg")  # the name lies; the content decides
    assert url.startswith("data:image/png;base64,")
    assert ark.decode_data_url(url) == png


def test_an_image_over_arks_inline_limit_is_refused_naming_the_limit_and_the_way_out() -> None:
    big = image_bytes("PNG")[:16] + bytes(ark.MAX_INLINE_IMAGE_BYTES)
    with pytest.raises(ValidationError) as info:
        ark.data_url(big, "huge.png")
    text = str(info.value)
    assert "30 MB" in text
    assert "http(s) URL" in text
    assert "huge.png" in text


def test_what_is_not_an_image_is_refused() -> None:
    with pytest.raises(ValidationError, match="JPEG, PNG, WebP or GIF"):
        ark.data_url(b"%PDF-1.7 not a picture", "doc.png")


def test_stand_ins_are_replaced_by_the_data_urls_the_client_holds() -> None:
    png = image_bytes("PNG")
    stand_in = ark.inline_url(png)
    assert ark.is_inline_url(stand_in)
    assert stand_in == ark.inline_url(png)
    request = GenerationRequest("a fox", image_with_roles=[{"url": stand_in, "role": "first_frame"}])
    sent = ark.build_body(request, inline={stand_in: ark.data_url(png)})
    assert sent["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert ark.request_from_body(sent) == request  # the data: URL reads back as its stand-in
    assert ark.build_body(request)["content"][1]["image_url"]["url"] == stand_in  # for people to read
    with pytest.raises(ValidationError, match="give the image again"):
        ark.build_body(request, inline={})


def test_the_gateway_refuses_a_stand_in_it_could_never_fetch() -> None:
    stand_in = ark.inline_url(image_bytes("PNG"))
    request = GenerationRequest("a fox", image_with_roles=[{"url": stand_in, "role": "first_frame"}])
    with pytest.raises(ValidationError, match="upload_image"):
        toapis.build_body(request)


def test_a_body_over_64_mb_of_images_is_refused_before_sending() -> None:
    first, last = ark.inline_url(b"1"), ark.inline_url(b"2")
    request = GenerationRequest(
        "a fox",
        image_with_roles=[{"url": first, "role": "first_frame"}, {"url": last, "role": "last_frame"}],
    )
    half = "data:image/png;base64," + "A" * (33 * 2**20)
    with pytest.raises(ValidationError, match="at most 64 MB"):
        ark.build_body(request, inline={first: half, last: half})


@pytest.mark.parametrize(
    "url",
    [
        "data:image/png;base64,@@@",
        "data:text/plain;base64,aGVsbG8=",
        "data:image/png,rawbytes",
        "data:image/jpeg;base64," + __import__("base64").b64encode(image_bytes("PNG")).decode(),
    ],
)
def test_broken_data_urls_in_a_body_are_refused(url: str) -> None:
    body = {
        "model": "doubao-seedance-1-5-pro-251215",
        "content": [{"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": url}}],
    }
    with pytest.raises(ValidationError):
        ark.request_from_body(body)


# ---- prices ---------------------------------------------------------------------------------------


def test_flex_estimates_half_the_default_price() -> None:
    plain = GenerationRequest("a fox", duration=5, resolution="720p")
    flex = plain.replace(service_tier="flex")
    assert request_estimate_usd(plain) == 0.13  # unchanged for every existing request
    assert request_estimate_usd(flex) == pytest.approx(0.065)


def test_real_cost_comes_from_tokens_at_arks_price() -> None:
    spec = catalog.MODELS["doubao-seedance-1-5-pro"]
    tokens = 1280 * 720 * 24 * 5 // 1024  # 108000, Ark's formula
    assert catalog.cost_from_tokens(spec, tokens, audio=False) == pytest.approx(0.1296)
    assert catalog.cost_from_tokens(spec, tokens, audio=True) == pytest.approx(0.2592)
    assert catalog.cost_from_tokens(spec, tokens, audio=False, tier="flex") == pytest.approx(0.0648)
    assert catalog.cost_from_tokens(spec, None) is None
    assert catalog.cost_from_tokens(spec, 0) == 0.0  # a cancelled task: really nothing billed


@pytest.mark.parametrize("spec", catalog.MODELS.values(), ids=lambda s: s.id)
def test_an_unconfirmed_price_is_none_and_marked(spec: catalog.ModelSpec) -> None:
    if spec.ark_price is None:
        assert "ark_price" in spec.unconfirmed
        assert catalog.cost_from_tokens(spec, 100000) is None  # unknown, never "free"
    else:
        assert spec.ark_price.source.startswith("https://")
        assert "ark_price" not in spec.unconfirmed


# ---- replies -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "ours", "final"),
    [
        ("queued", QUEUED, False),
        ("running", IN_PROGRESS, False),
        ("succeeded", COMPLETED, True),
        ("failed", FAILED, True),
        ("cancelled", CANCELLED, True),
        ("expired", EXPIRED, True),
        ("Succeeded", COMPLETED, True),
        ("paused", "paused", False),
    ],
)
def test_statuses(word: str, ours: str, final: bool) -> None:
    task = ark.parse_task({"id": "cgt-1", "status": word})
    assert (task.status, task.is_final, task.protocol) == (ours, final, "ark")
    assert task.is_known_status == (ours != "paused")


def test_a_gateway_saying_cancelled_is_still_unknown_there() -> None:
    # ToAPIs has no cancel: its "cancelled" stays an unknown word, watched on (unchanged behaviour).
    task = Task.from_json({"id": "t1", "status": "cancelled"})
    assert not task.is_final
    assert not task.is_known_status


SUCCEEDED = {
    "id": "cgt-20261130-abc",
    "model": "doubao-seedance-1-5-pro-251215",
    "status": "succeeded",
    "content": {
        "video_url": "https://ark-content.example/v.mp4?sig=1",
        "last_frame_url": "https://ark-content.example/last.png",
    },
    "usage": {"completion_tokens": 108000, "total_tokens": 108000},
    "seed": 1234,
    "resolution": "720p",
    "ratio": "16:9",
    "duration": 5,
    "framespersecond": 24,
    "service_tier": "flex",
    "created_at": 1796000000,
    "updated_at": 1796000060,
}


def test_a_finished_task_reads_whole() -> None:
    task = ark.parse_task(SUCCEEDED)
    assert task.id == "cgt-20261130-abc"
    assert task.model == "doubao-seedance-1-5-pro"
    assert task.metadata["ark_model"] == "doubao-seedance-1-5-pro-251215"
    assert (task.video_url, task.last_frame_url) == (
        "https://ark-content.example/v.mp4?sig=1",
        "https://ark-content.example/last.png",
    )
    assert (task.usage_tokens, task.service_tier, task.seed, task.progress) == (108000, "flex", 1234, 100)
    assert task.completed_at == 1796000060
    assert task.expires_at == 1796000060 + 24 * 3600


def test_a_failed_task_keeps_its_code() -> None:
    task = ark.parse_task(
        {
            "id": "cgt-2",
            "status": "failed",
            "error": {"code": "OutputVideoSensitiveContentDetected", "message": "may contain sensitive info"},
        }
    )
    assert (task.status, task.error_code) == (FAILED, "OutputVideoSensitiveContentDetected")
    assert task.error_message == "may contain sensitive info"
    assert ark.is_content_code(task.error_code)


@pytest.mark.parametrize(
    "usage",
    [
        {"completion_tokens": True},
        {"completion_tokens": -5},
        {"completion_tokens": "9"},
        {"completion_tokens": 1.5},
        [],
        "lots",
        None,
    ],
)
def test_odd_usage_is_unknown_not_zero(usage: Any) -> None:
    assert ark.parse_task({"id": "cgt-3", "status": "succeeded", "usage": usage}).usage_tokens is None


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "cgt-1",
        {"id": 5, "status": 7},
        {"id": "cgt-1", "status": "succeeded", "content": "https://x", "error": "bad", "usage": 3},
        {"id": "cgt-1", "status": None, "created_at": "soon", "seed": float("nan"), "model": ["m"]},
        {"id": "cgt-1", "status": "queued", "resolution": {"a": 1}, "duration": [5]},
    ],
)
def test_hostile_replies_never_crash(data: Any) -> None:
    task = ark.parse_task(data)
    assert isinstance(task.status, str)
    assert isinstance(task.metadata, dict)
    assert task.usage_tokens is None
    assert task.video_url is None


def test_a_list_reply_gives_its_tasks_and_skips_junk() -> None:
    reply = {"total": 3, "items": [SUCCEEDED, "junk", {"id": "cgt-q", "status": "queued"}]}
    assert [t.id for t in ark.parse_task_list(reply)] == ["cgt-20261130-abc", "cgt-q"]
    assert ark.parse_task_list({"items": "none"}) == []
    assert ark.parse_task_list(None) == []


# ---- errors ---------------------------------------------------------------------------------------


def ark_error(code: str, message: str = "words") -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "param": "", "type": "BadRequest"}}


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "InvalidParameter", BadRequestError),
        (400, "MissingParameter", BadRequestError),
        (400, "InputTextSensitiveContentDetected", ContentPolicyError),
        (400, "InputImageSensitiveContentDetected", ContentPolicyError),
        (400, "SensitiveContentDetected.SevereViolation", ContentPolicyError),
        (401, "AuthenticationError", ark.ArkAuthenticationError),
        (403, "AccessDenied", ark.ArkAccessDeniedError),
        (403, "AccountOverdueError", QuotaError),
        (404, "InvalidEndpointOrModel.NotFound", NotFoundError),
        (429, "ModelAccountRpmRateLimitExceeded", RateLimitError),
        (429, "ModelAccountTpmRateLimitExceeded", RateLimitError),
        (429, "QuotaExceeded", RateLimitError),
        (429, "ServerOverloaded", RateLimitError),
        (503, "ServerOverloaded", RateLimitError),
        (500, "InternalServiceError", ServerError),
        (429, "SomethingNew", RateLimitError),
        (401, "SomethingNew", ark.ArkAuthenticationError),
    ],
)
def test_ark_codes_map_to_the_typed_errors(status: int, code: str, expected: type[Exception]) -> None:
    err = ark.error_from_reply(status, ark_error(code), retry_after=2.0)
    assert type(err) is expected
    assert (err.code, err.status, err.retry_after) == (code, status, 2.0)
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is expected
    assert str(again) == str(err)


def test_the_auth_error_names_arks_variable() -> None:
    err = ark.error_from_reply(401, ark_error("AuthenticationError", "The API key is invalid"))
    assert isinstance(err, AuthenticationError)
    assert "ARK_API_KEY" in str(err)
    assert "TOAPIS_API_KEY" not in str(err)
    assert {"ModelAccountRpmRateLimitExceeded", "QuotaExceeded", "ServerOverloaded"} <= ark.RATE_LIMIT_CODES


def test_the_gateway_s_usage_is_read_when_it_has_tokens() -> None:
    task = Task.from_json({"id": "t1", "status": "completed", "usage": {"completion_tokens": 5000}})
    assert task.usage_tokens == 5000
    assert Task.from_json({"id": "t1", "status": "completed", "usage": {"seconds": 5}}).usage_tokens is None

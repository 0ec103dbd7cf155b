"""One fact, one place: both wire protocols have the same shape (``protocols.base.WireProtocol``),
``protocols.for_provider`` finds them, and the bodies built through them are exactly the bodies
the provider-branching code built before (``EXPECTED`` was captured from that code, key order
included, before the branches moved into the protocol modules).

No HTTP here: bodies, replies and errors are pure functions of their inputs. The client's own
capability properties are read from a real (unconnected) client.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from typing import Any

import pytest

from seedance_widgets.api import GenerationRequest, SeedanceClient
from seedance_widgets.api.errors import AuthenticationError, UnsupportedError, ValidationError
from seedance_widgets.api.protocols import DEFAULT, PROTOCOLS, WireProtocol, ark, for_provider, toapis
from seedance_widgets.api.protocols.base import CANCEL, FIND_BY_BUSINESS_ID, LIST

KEY = "sk-test-0123456789"
STAND_IN = ark.inline_url(b"local picture")
#: What the Ark client holds for the stand-in (a data: URL; only its text matters here).
INLINE = {STAND_IN: "data:image/png;base64,iVBORw0KGgo="}
BUSINESS_ID = "job-1"
#: Local files' references in a dry run (``sha256:<hex>`` of their bytes).
SHA_A, SHA_B, SHA_C, SHA_D, SHA_E = ("sha256:" + letter * 64 for letter in "abcde")

#: The requests, and the (role, reference) pairs a dry run puts in place of their own inputs.
CASES: dict[str, tuple[dict[str, Any], list[tuple[str, str]]]] = {
    "text": ({"prompt": "a red fox in the snow"}, []),
    "images": (
        {
            "prompt": "the fox runs",
            "image_urls": ["https://example.com/a.png", "https://example.com/b.png"],
            "seed": 7,
            "camera_fixed": True,
        },
        [("first_frame", SHA_A), ("last_frame", SHA_B)],
    ),
    "references": (
        {
            "prompt": "dance to the music",
            "model": "doubao-seedance-2-0",
            "image_with_roles": [{"url": "https://example.com/ref.png", "role": "reference_image"}],
            "video_with_roles": [{"url": "https://example.com/clip.mp4", "role": "reference_video"}],
            "audio_with_roles": [{"url": "https://example.com/song.mp3", "role": "reference_audio"}],
            "return_last_frame": True,
            "web_search": True,
        },
        [("reference_image", SHA_C), ("reference_video", SHA_D)],
    ),
    "reference_images": (
        {
            "prompt": "two friends wave",
            "model": "doubao-seedance-2-0",
            "image_with_roles": [
                {"url": "https://example.com/one.png", "role": "reference_image"},
                {"url": "https://example.com/two.png", "role": "reference_image"},
            ],
        },
        [("reference_image", SHA_A), ("reference_image", SHA_B)],  # in order, one per item
    ),
    "flex": (
        {
            "prompt": "slow clouds",
            "model": "doubao-seedance-2-0-fast",
            "service_tier": "flex",
            "image_with_roles": [{"url": STAND_IN, "role": "first_frame"}],
        },
        [("first_frame", SHA_E)],
    ),
}

EXPECTED: dict[str, dict[str, Any]] = {
    "text": {
        "toapis:create": {
            "model": "doubao-seedance-1-5-pro",
            "prompt": "a red fox in the snow",
            "duration": 5,
            "aspect_ratio": "16:9",
            "metadata": {"resolution": "720p", "audio": False},
            "client_business_id": "job-1",
        },
        "toapis:dry_run": {
            "model": "doubao-seedance-1-5-pro",
            "prompt": "a red fox in the snow",
            "duration": 5,
            "aspect_ratio": "16:9",
            "metadata": {"resolution": "720p", "audio": False},
        },
        "ark:create": {
            "model": "doubao-seedance-1-5-pro-251215",
            "content": [{"type": "text", "text": "a red fox in the snow"}],
            "resolution": "720p",
            "ratio": "16:9",
            "duration": 5,
            "generate_audio": False,
        },
        "ark:ledger": {
            "model": "doubao-seedance-1-5-pro-251215",
            "content": [{"type": "text", "text": "a red fox in the snow"}],
            "resolution": "720p",
            "ratio": "16:9",
            "duration": 5,
            "generate_audio": False,
        },
        "ark:dry_run": {
            "model": "doubao-seedance-1-5-pro-251215",
            "content": [{"type": "text", "text": "a red fox in the snow"}],
            "resolution": "720p",
            "ratio": "16:9",
            "duration": 5,
            "generate_audio": False,
        },
    },
    "images": {
        "toapis:create": {
            "model": "doubao-seedance-1-5-pro",
            "prompt": "the fox runs",
            "duration": 5,
            "aspect_ratio": "16:9",
            "image_urls": ["https://example.com/a.png", "https://example.com/b.png"],
            "metadata": {"resolution": "720p", "audio": False, "seed": 7, "camerafixed": True},
            "client_business_id": "job-1",
        },
        "toapis:dry_run": {
            "model": "doubao-seedance-1-5-pro",
            "prompt": "the fox runs",
            "duration": 5,
            "aspect_ratio": "16:9",
            "metadata": {"resolution": "720p", "audio": False, "seed": 7, "camerafixed": True},
            "image_with_roles": [{"url": SHA_A, "role": "first_frame"}, {"url": SHA_B, "role": "last_frame"}],
        },
        "ark:create": {
            "model": "doubao-seedance-1-5-pro-251215",
            "content": [
                {"type": "text", "text": "the fox runs"},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/a.png"},
                    "role": "first_frame",
                },
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/b.png"},
                    "role": "last_frame",
                },
            ],
            "resolution": "720p",
            "ratio": "16:9",
            "duration": 5,
            "generate_audio": False,
            "seed": 7,
            "camera_fixed": True,
        },
        "ark:ledger": {
            "model": "doubao-seedance-1-5-pro-251215",
            "content": [
                {"type": "text", "text": "the fox runs"},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/a.png"},
                    "role": "first_frame",
                },
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/b.png"},
                    "role": "last_frame",
                },
            ],
            "resolution": "720p",
            "ratio": "16:9",
            "duration": 5,
            "generate_audio": False,
            "seed": 7,
            "camera_fixed": True,
        },
        "ark:dry_run": {
            "model": "doubao-seedance-1-5-pro-251215",
            "content": [
                {"type": "text", "text": "the fox runs"},
                {"type": "image_url", "image_url": {"url": SHA_A}, "role": "first_frame"},
                {"type": "image_url", "image_url": {"url": SHA_B}, "role": "last_frame"},
            ],
            "resolution": "720p",
            "ratio": "16:9",
            "duration": 5,
            "generate_audio": False,
            "seed": 7,
            "camera_fixed": True,
        },
    },
    "references": {
        "toapis:create": {
            "model": "doubao-seedance-2-0",
            "prompt": "dance to the music",
            "duration": 5,
            "aspect_ratio": "adaptive",
            "image_with_roles": [{"url": "https://example.com/ref.png", "role": "reference_image"}],
            "video_with_roles": [{"url": "https://example.com/clip.mp4", "role": "reference_video"}],
            "audio_with_roles": [{"url": "https://example.com/song.mp3", "role": "reference_audio"}],
            "metadata": {
                "resolution": "720p",
                "generate_audio": True,
                "return_last_frame": True,
                "tools": [{"type": "web_search"}],
            },
            "client_business_id": "job-1",
        },
        "toapis:dry_run": {
            "model": "doubao-seedance-2-0",
            "prompt": "dance to the music",
            "duration": 5,
            "aspect_ratio": "adaptive",
            "image_with_roles": [{"url": SHA_C, "role": "reference_image"}],
            "video_with_roles": [{"url": SHA_D, "role": "reference_video"}],
            "audio_with_roles": [{"url": "https://example.com/song.mp3", "role": "reference_audio"}],
            "metadata": {
                "resolution": "720p",
                "generate_audio": True,
                "return_last_frame": True,
                "tools": [{"type": "web_search"}],
            },
        },
        "ark:create": {
            "model": "doubao-seedance-2-0-260128",
            "content": [
                {"type": "text", "text": "dance to the music"},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/ref.png"},
                    "role": "reference_image",
                },
                {
                    "type": "video_url",
                    "video_url": {"url": "https://example.com/clip.mp4"},
                    "role": "reference_video",
                },
                {
                    "type": "audio_url",
                    "audio_url": {"url": "https://example.com/song.mp3"},
                    "role": "reference_audio",
                },
            ],
            "resolution": "720p",
            "ratio": "adaptive",
            "duration": 5,
            "generate_audio": True,
            "return_last_frame": True,
            "tools": [{"type": "web_search"}],
        },
        "ark:dry_run": {
            "model": "doubao-seedance-2-0-260128",
            "content": [
                {"type": "text", "text": "dance to the music"},
                {"type": "image_url", "image_url": {"url": SHA_C}, "role": "reference_image"},
                {"type": "video_url", "video_url": {"url": SHA_D}, "role": "reference_video"},
                {
                    "type": "audio_url",
                    "audio_url": {"url": "https://example.com/song.mp3"},
                    "role": "reference_audio",
                },
            ],
            "resolution": "720p",
            "ratio": "adaptive",
            "duration": 5,
            "generate_audio": True,
            "return_last_frame": True,
            "tools": [{"type": "web_search"}],
        },
        "ark:bytepluses:create": {
            "model": "dreamina-seedance-2-0-260128",
            "content": [
                {"type": "text", "text": "dance to the music"},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/ref.png"},
                    "role": "reference_image",
                },
                {
                    "type": "video_url",
                    "video_url": {"url": "https://example.com/clip.mp4"},
                    "role": "reference_video",
                },
                {
                    "type": "audio_url",
                    "audio_url": {"url": "https://example.com/song.mp3"},
                    "role": "reference_audio",
                },
            ],
            "resolution": "720p",
            "ratio": "adaptive",
            "duration": 5,
            "generate_audio": True,
            "return_last_frame": True,
            "tools": [{"type": "web_search"}],
        },
        "ark:bytepluses:dry_run": {
            "model": "dreamina-seedance-2-0-260128",
            "content": [
                {"type": "text", "text": "dance to the music"},
                {"type": "image_url", "image_url": {"url": SHA_C}, "role": "reference_image"},
                {"type": "video_url", "video_url": {"url": SHA_D}, "role": "reference_video"},
                {
                    "type": "audio_url",
                    "audio_url": {"url": "https://example.com/song.mp3"},
                    "role": "reference_audio",
                },
            ],
            "resolution": "720p",
            "ratio": "adaptive",
            "duration": 5,
            "generate_audio": True,
            "return_last_frame": True,
            "tools": [{"type": "web_search"}],
        },
    },
    "reference_images": {
        "toapis:dry_run": {
            "model": "doubao-seedance-2-0",
            "prompt": "two friends wave",
            "duration": 5,
            "aspect_ratio": "adaptive",
            "image_with_roles": [
                {"url": SHA_A, "role": "reference_image"},
                {"url": SHA_B, "role": "reference_image"},
            ],
            "metadata": {"resolution": "720p", "generate_audio": True},
        },
        "ark:dry_run": {
            "model": "doubao-seedance-2-0-260128",
            "content": [
                {"type": "text", "text": "two friends wave"},
                {"type": "image_url", "image_url": {"url": SHA_A}, "role": "reference_image"},
                {"type": "image_url", "image_url": {"url": SHA_B}, "role": "reference_image"},
            ],
            "resolution": "720p",
            "ratio": "adaptive",
            "duration": 5,
            "generate_audio": True,
        },
    },
    "flex": {
        "ark:create": {
            "model": "doubao-seedance-2-0-fast-260128",
            "content": [
                {"type": "text", "text": "slow clouds"},
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="},
                    "role": "first_frame",
                },
            ],
            "resolution": "720p",
            "ratio": "adaptive",
            "duration": 5,
            "generate_audio": True,
            "service_tier": "flex",
            "execution_expires_after": 172800,
        },
        "ark:create_7200": {
            "model": "doubao-seedance-2-0-fast-260128",
            "content": [
                {"type": "text", "text": "slow clouds"},
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="},
                    "role": "first_frame",
                },
            ],
            "resolution": "720p",
            "ratio": "adaptive",
            "duration": 5,
            "generate_audio": True,
            "service_tier": "flex",
            "execution_expires_after": 7200,
        },
        "ark:ledger": {
            "model": "doubao-seedance-2-0-fast-260128",
            "content": [
                {"type": "text", "text": "slow clouds"},
                {"type": "image_url", "image_url": {"url": STAND_IN}, "role": "first_frame"},
            ],
            "resolution": "720p",
            "ratio": "adaptive",
            "duration": 5,
            "generate_audio": True,
            "service_tier": "flex",
            "execution_expires_after": 172800,
        },
        "ark:dry_run": {
            "model": "doubao-seedance-2-0-fast-260128",
            "content": [
                {"type": "text", "text": "slow clouds"},
                {"type": "image_url", "image_url": {"url": SHA_E}, "role": "first_frame"},
            ],
            "resolution": "720p",
            "ratio": "adaptive",
            "duration": 5,
            "generate_audio": True,
            "service_tier": "flex",
            "execution_expires_after": 172800,
        },
        "ark:bytepluses:create": {
            "model": "dreamina-seedance-2-0-fast-260128",
            "content": [
                {"type": "text", "text": "slow clouds"},
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="},
                    "role": "first_frame",
                },
            ],
            "resolution": "720p",
            "ratio": "adaptive",
            "duration": 5,
            "generate_audio": True,
            "service_tier": "flex",
            "execution_expires_after": 172800,
        },
    },
}


def _built(key: str, request: GenerationRequest, media: list[tuple[str, str]]) -> dict[str, Any]:
    """The body ``key`` ("<provider>[:<region>]:<kind>") names, built through the protocol object."""
    parts = key.split(":")
    protocol = for_provider(parts[0])
    region = parts[1] if len(parts) == 3 else None
    kind = parts[-1]
    if kind == "ledger":
        return protocol.ledger_body(request, business_id=BUSINESS_ID, region=region)
    if kind == "dry_run":
        return protocol.dry_run_body(request, media, region=region)
    expires = 7200 if kind == "create_7200" else None
    return protocol.create_body(
        request, business_id=BUSINESS_ID, region=region, inline=INLINE, execution_expires_after=expires
    )


@pytest.mark.parametrize(
    ("case", "key"), [(case, key) for case, bodies in EXPECTED.items() for key in bodies]
)
def test_bodies_built_through_the_protocol_are_the_old_bodies(case: str, key: str) -> None:
    fields, media = CASES[case]
    body = _built(key, GenerationRequest(**fields), media)
    # Byte for byte, key order included: this JSON is what is sent, written to the ledger, shown.
    assert json.dumps(body) == json.dumps(EXPECTED[case][key])


@pytest.mark.parametrize("case", ["text", "images", "references"])
def test_the_gateways_ledger_body_is_the_body_sent(case: str) -> None:
    request = GenerationRequest(**CASES[case][0])
    ledger = toapis.ledger_body(request, business_id=BUSINESS_ID, region=None)
    assert json.dumps(ledger) == json.dumps(EXPECTED[case]["toapis:create"])


def test_the_gateway_refuses_arks_settings_before_anything_is_sent() -> None:
    flex = GenerationRequest(**CASES["flex"][0])
    for build in (
        lambda: toapis.create_body(
            flex, business_id=None, region=None, inline={}, execution_expires_after=None
        ),
        lambda: toapis.ledger_body(flex, business_id=None, region=None),
        lambda: toapis.dry_run_body(flex, [], region=None),
    ):
        with pytest.raises(ValidationError, match="is an Ark tier"):
            build()
    plain = GenerationRequest(prompt="a fox")
    with pytest.raises(ValidationError, match="execution_expires_after"):
        toapis.create_body(plain, business_id=None, region=None, inline={}, execution_expires_after=7200)
    with pytest.raises(ValidationError, match="client_business_id"):
        ark.create_body(plain, business_id="bad id", region=None, inline={}, execution_expires_after=None)


def _members() -> tuple[list[str], list[str]]:
    """The protocol's data names and its function names."""
    data = [name for name in WireProtocol.__annotations__ if not name.startswith("_")]
    functions = [
        name
        for name, value in vars(WireProtocol).items()
        if not name.startswith("_") and inspect.isfunction(value)
    ]
    return data, functions


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_each_protocol_has_every_name_of_the_shape(name: str) -> None:
    protocol = PROTOCOLS[name]
    assert isinstance(protocol, WireProtocol)
    assert name == protocol.NAME
    data, functions = _members()
    # The shape was read (not an empty class).
    assert len(data) >= 10
    assert len(functions) >= 9
    for attr in data:
        value = getattr(protocol, attr)
        assert not callable(value), attr
        assert isinstance(value, (str, bool, Mapping)), attr
    for attr in functions:
        function = getattr(protocol, attr)
        assert callable(function), attr
        wanted = list(inspect.signature(getattr(WireProtocol, attr)).parameters)[1:]  # no self
        assert list(inspect.signature(function).parameters) == wanted, attr


def test_for_provider_finds_each_protocol_and_refuses_others() -> None:
    assert for_provider("toapis") is toapis
    assert for_provider("ark") is ark
    assert for_provider(None) is DEFAULT is toapis
    with pytest.raises(ValidationError, match="'toapis' or 'ark'"):
        for_provider("openai")


def test_capabilities_are_the_providers_own() -> None:
    assert (toapis.FINDS_BY_BUSINESS_ID, toapis.CAN_CANCEL, toapis.CAN_LIST) == (True, False, False)
    assert (ark.FINDS_BY_BUSINESS_ID, ark.CAN_CANCEL, ark.CAN_LIST) == (False, True, True)
    assert (toapis.REPORTS_COST, ark.REPORTS_COST) == (False, True)
    assert (toapis.UPLOADS_MEDIA, ark.UPLOADS_MEDIA) == (True, False)
    assert set(toapis.UNSUPPORTED) == {CANCEL, LIST}
    assert set(ark.UNSUPPORTED) == {FIND_BY_BUSINESS_ID}
    for name, region in (("toapis", None), ("ark", "bytepluses")):
        client = SeedanceClient(KEY, provider=name, region=region)
        protocol = for_provider(name)
        assert client.protocol is protocol
        assert (client.can_cancel, client.can_list, client.finds_by_business_id) == (
            protocol.CAN_CANCEL,
            protocol.CAN_LIST,
            protocol.FINDS_BY_BUSINESS_ID,
        )
    gateway = SeedanceClient(KEY)
    with pytest.raises(UnsupportedError, match="cannot cancel"):
        gateway.cancel("task-1")
    with pytest.raises(UnsupportedError, match="cannot list"):
        gateway.list_tasks()
    with pytest.raises(UnsupportedError, match="no client_business_id"):
        SeedanceClient(KEY, provider="ark").find_by_business_id("job-1")


def test_replies_and_errors_read_through_the_protocol() -> None:
    acknowledged = ark.parse_create_reply({"id": "cgt-1"})
    assert acknowledged is not None
    assert (acknowledged.id, acknowledged.status) == ("cgt-1", "queued")
    assert ark.parse_create_reply({"id": "cgt-1", "status": "running"}) is None
    assert toapis.parse_create_reply({"id": "t-1"}) is None
    request = GenerationRequest(**CASES["flex"][0])
    filled = ark.as_sent(acknowledged, request)
    assert (filled.model, filled.service_tier) == ("doubao-seedance-2-0-fast", "flex")
    plain = toapis.parse_task({"id": "t-1", "status": "queued"})
    assert toapis.as_sent(plain, request) is plain
    assert toapis.unwrap({"data": {"id": "t-1", "status": "queued"}}) == {"id": "t-1", "status": "queued"}
    wrapped = {"data": {"id": "t-1", "status": "queued"}}
    assert ark.unwrap(wrapped) is wrapped
    refused = {"error": {"code": "AuthenticationError", "message": "bad key"}}
    assert isinstance(ark.error_from_reply(401, refused), ark.ArkAuthenticationError)
    gateway_error = toapis.error_from_reply(401, refused)
    assert isinstance(gateway_error, AuthenticationError)
    assert not isinstance(gateway_error, ark.ArkAuthenticationError)
    toapis.check_local_video("ref_videos", "a local file")  # the gateway uploads it
    with pytest.raises(ValidationError, match=r"Ark has no upload endpoint.*Nothing was sent\.$"):
        ark.check_local_video("ref_videos", "a local file", ". Nothing was sent.")

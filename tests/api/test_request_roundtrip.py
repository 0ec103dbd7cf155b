"""to_body() gives exactly the documented JSON, and parsing it back gives an equal request."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seedance_widgets.api import (
    ASPECT_RATIOS,
    MAX_PROMPT_CHARS,
    MAX_SEED,
    MODEL,
    RESOLUTIONS,
    GenerationRequest,
    ImageRole,
    ValidationError,
)

# The create body of the contract's section 1, verbatim.
CONTRACT_BODY = json.loads("""
{"model": "doubao-seedance-1-5-pro",
 "prompt": "Sunset at the beach, golden sunlight on the sea, waves gently hitting the sand",
 "duration": 5, "aspect_ratio": "16:9",
 "metadata": {"resolution": "720p", "audio": true}}
""")

TOP_FIELDS = {"model", "prompt", "duration", "aspect_ratio", "image_urls", "image_with_roles", "metadata"}
META_FIELDS = {"resolution", "audio", "seed", "camerafixed"}

urls = st.builds(
    "https://{}.example/{}.{}".format,
    st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789_/%", min_size=1, max_size=30),
    st.sampled_from(["png", "jpg", "webp", "gif"]),
)


@st.composite
def role_lists(draw: st.DrawFn) -> list[ImageRole]:
    roles = []
    if draw(st.booleans()):
        roles.append(ImageRole(draw(urls), "first_frame"))
    if draw(st.booleans()):
        roles.append(ImageRole(draw(urls), "last_frame"))
    roles += [ImageRole(draw(urls), "reference_image") for _ in range(draw(st.integers(0, 4)))]
    return draw(st.permutations(roles))


prompts = st.text(min_size=1, max_size=MAX_PROMPT_CHARS).filter(str.strip)
image_choice = st.one_of(
    st.just({}),
    st.lists(urls, min_size=1, max_size=6).map(lambda u: {"image_urls": u}),
    role_lists().map(lambda r: {"image_with_roles": r}),
)


@st.composite
def requests_(draw: st.DrawFn) -> GenerationRequest:
    return GenerationRequest(
        prompt=draw(prompts),
        duration=draw(st.integers(4, 12)),
        aspect_ratio=draw(st.sampled_from(ASPECT_RATIOS)),
        resolution=draw(st.sampled_from(RESOLUTIONS)),
        audio=draw(st.booleans()),
        seed=draw(st.none() | st.integers(-1, MAX_SEED)),
        camera_fixed=draw(st.booleans()),
        **draw(image_choice),
    )


@settings(max_examples=300, database=None, deadline=None)
@given(requests_())
def test_body_round_trips_to_an_equal_request(request: GenerationRequest) -> None:
    body = request.to_body()
    wire = json.loads(json.dumps(body))  # what really travels: JSON text
    assert wire == body
    again = GenerationRequest.from_body(wire)
    assert again == request
    assert again.to_body() == body


@settings(max_examples=200, database=None, deadline=None)
@given(requests_())
def test_body_holds_only_documented_fields(request: GenerationRequest) -> None:
    body = request.to_body()
    assert set(body) <= TOP_FIELDS
    assert set(body["metadata"]) <= META_FIELDS
    assert body["model"] == MODEL
    assert not ("image_urls" in body and "image_with_roles" in body)
    assert isinstance(body["duration"], int)
    assert body["metadata"]["resolution"] in RESOLUTIONS
    assert ("seed" in body["metadata"]) == (request.seed is not None)


@settings(max_examples=200, database=None, deadline=None)
@given(st.integers() | st.floats(allow_nan=True) | st.text(max_size=3))
def test_a_duration_is_accepted_exactly_when_it_is_a_whole_number_from_4_to_12(value: Any) -> None:
    ok = isinstance(value, (int, float)) and 4 <= value <= 12 and float(value).is_integer()
    if ok:
        assert GenerationRequest("p", duration=value).duration == int(value)
    else:
        with pytest.raises(ValidationError):
            GenerationRequest("p", duration=value)


def test_contract_example_body_round_trips_exactly() -> None:
    request = GenerationRequest.from_body(CONTRACT_BODY)
    assert request.prompt.startswith("Sunset at the beach")
    assert (request.duration, request.aspect_ratio, request.resolution, request.audio) == (
        5,
        "16:9",
        "720p",
        True,
    )
    assert request.to_body() == CONTRACT_BODY


def test_full_body_is_exactly_the_documented_json() -> None:
    request = GenerationRequest(
        "p",
        duration=12,
        aspect_ratio="21:9",
        resolution="480p",
        audio=False,
        seed=2**32 - 1,
        camera_fixed=True,
        image_with_roles=[ImageRole("https://f.example/a.png", "first_frame")],
    )
    assert request.to_body() == {
        "model": "doubao-seedance-1-5-pro",
        "prompt": "p",
        "duration": 12,
        "aspect_ratio": "21:9",
        "image_with_roles": [{"url": "https://f.example/a.png", "role": "first_frame"}],
        "metadata": {"resolution": "480p", "audio": False, "seed": 4294967295, "camerafixed": True},
    }


def test_body_with_only_the_required_fields_takes_the_defaults() -> None:
    request = GenerationRequest.from_body({"model": MODEL, "prompt": "p"})
    assert request == GenerationRequest("p")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": MODEL}, "prompt"),
        ({"model": MODEL, "prompt": "p", "duration": "5"}, "duration"),
        ({"model": MODEL, "prompt": "p", "metadata": {"resolution": "1080p"}}, "resolution"),
        ({"model": MODEL, "prompt": "p", "metadata": "720p"}, "metadata"),
        ({"model": MODEL, "prompt": "p", "image_urls": "https://f.example/a.png"}, "image_urls"),
        ({"model": MODEL, "prompt": "p", "image_with_roles": {"url": "x"}}, "image_with_roles"),
        ({"model": "doubao-seedance-1-0-lite", "prompt": "p"}, "model"),
        (["not", "an", "object"], "body"),
    ],
)
def test_bad_bodies_are_refused_naming_the_field(body: Any, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        GenerationRequest.from_body(body)
    assert info.value.field == field

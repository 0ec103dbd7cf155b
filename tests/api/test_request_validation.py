"""Every rule of GenerationRequest; each refusal names the field, the bad value and what is allowed."""

from __future__ import annotations

from typing import Any

import pytest

from seedance_widgets.api import (
    ASPECT_RATIOS,
    MAX_PROMPT_CHARS,
    OUTPUT_SIZES,
    GenerationRequest,
    ImageRole,
    ValidationError,
    estimate_cost_usd,
    request_cost_usd,
)

URL = "https://files.example/img/{}.png"


def refused(**kwargs: Any) -> ValidationError:
    kwargs.setdefault("prompt", "a red fox runs through snow")
    with pytest.raises(ValidationError) as info:
        GenerationRequest(**kwargs)
    err = info.value
    assert isinstance(err, ValueError)  # usable where callers catch ValueError
    return err


def assert_names(err: ValidationError, field: str, *shown: str) -> None:
    text = str(err)
    assert err.field == field
    assert field.split(".", maxsplit=1)[0] in text, text
    for part in shown:
        assert part in text, f"{part!r} missing from {text!r}"


# ---- prompt --------------------------------------------------------------------------------


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t "])
def test_empty_or_blank_prompt_is_refused(prompt: str) -> None:
    err = refused(prompt=prompt)
    assert_names(err, "prompt", repr(prompt), "non-empty")
    assert err.value == prompt


def test_prompt_must_be_text() -> None:
    assert_names(refused(prompt=None), "prompt", "None", "non-empty")


def test_prompt_at_the_limit_is_accepted_and_one_more_is_refused() -> None:
    assert len(GenerationRequest("x" * MAX_PROMPT_CHARS).prompt) == MAX_PROMPT_CHARS
    err = refused(prompt="x" * (MAX_PROMPT_CHARS + 1))
    assert_names(err, "prompt", str(MAX_PROMPT_CHARS + 1), f"at most {MAX_PROMPT_CHARS}")


def test_prompt_is_kept_verbatim() -> None:
    text = '  Sunset, ünïcode ✓ and "quotes"\n'
    assert GenerationRequest(text).prompt == text


# ---- duration ------------------------------------------------------------------------------


@pytest.mark.parametrize("duration", range(4, 13))
def test_every_whole_duration_from_4_to_12_is_accepted(duration: int) -> None:
    assert GenerationRequest("p", duration=duration).duration == duration


@pytest.mark.parametrize("duration", [3, 13, 0, -5, 4.5, "5", True, False, None, [5]])
def test_bad_durations_are_refused(duration: object) -> None:
    err = refused(duration=duration)
    assert_names(err, "duration", repr(duration), "from 4 to 12")
    assert err.value is duration or err.value == duration


def test_whole_float_duration_becomes_an_int() -> None:
    request = GenerationRequest("p", duration=6.0)
    assert request.duration == 6
    assert type(request.duration) is int


def test_default_duration_is_5() -> None:
    assert GenerationRequest("p").duration == 5


# ---- aspect ratio and resolution -----------------------------------------------------------


# The contract's section 5 table, typed in again here so a slip in OUTPUT_SIZES shows.
CONTRACT_SIZES = {
    "16:9": ((864, 496), (1280, 720)),
    "4:3": ((752, 560), (1112, 834)),
    "1:1": ((640, 640), (960, 960)),
    "3:4": ((560, 752), (834, 1112)),
    "9:16": ((496, 864), (720, 1280)),
    "21:9": ((992, 432), (1470, 630)),
}


@pytest.mark.parametrize("ratio", ASPECT_RATIOS)
@pytest.mark.parametrize("resolution", ["480p", "720p"])
def test_every_ratio_at_every_resolution(ratio: str, resolution: str) -> None:
    request = GenerationRequest("p", aspect_ratio=ratio, resolution=resolution)
    expected = CONTRACT_SIZES[ratio][0 if resolution == "480p" else 1]
    assert request.size == expected
    assert OUTPUT_SIZES[resolution][ratio] == expected


def test_the_six_ratios_are_the_contracts() -> None:
    assert set(ASPECT_RATIOS) == {"16:9", "9:16", "1:1", "4:3", "3:4", "21:9"}


@pytest.mark.parametrize("ratio", ["16:10", "2:1", "16/9", "", "16 : 9", None, 1.77])
def test_bad_ratios_are_refused_with_the_list(ratio: object) -> None:
    err = refused(aspect_ratio=ratio)
    assert_names(err, "aspect_ratio", repr(ratio), "16:9, 9:16, 1:1, 4:3, 3:4, 21:9")


@pytest.mark.parametrize("resolution", ["1080p", "1080P", "4k"])
def test_1080p_is_refused_saying_1_5_pro_tops_out_at_720p(resolution: str) -> None:
    err = refused(resolution=resolution)
    assert_names(err, "resolution", repr(resolution), "tops out at 720p", "480p or 720p")


@pytest.mark.parametrize("resolution", ["360p", "720", "", None])
def test_other_resolutions_are_refused(resolution: object) -> None:
    assert_names(refused(resolution=resolution), "resolution", repr(resolution), "480p or 720p")


def test_defaults_are_the_contracts() -> None:
    request = GenerationRequest("p")
    assert (request.aspect_ratio, request.resolution, request.audio, request.camera_fixed) == (
        "16:9",
        "720p",
        False,
        False,
    )


# ---- flags and seed ------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["audio", "camera_fixed"])
@pytest.mark.parametrize("value", [1, "yes", None])
def test_flags_must_be_booleans(field: str, value: object) -> None:
    assert_names(refused(**{field: value}), field, repr(value), "true or false")


@pytest.mark.parametrize("seed", [-1, 0, 1, 42, 2**32 - 1])
def test_seeds_in_range_are_accepted(seed: int) -> None:
    assert GenerationRequest("p", seed=seed).seed == seed


@pytest.mark.parametrize("seed", [-2, 2**32, 2**64, 1.5, "7", True])
def test_seeds_out_of_range_are_refused(seed: object) -> None:
    err = refused(seed=seed)
    assert_names(err, "seed", repr(seed), "-1 (random)", str(2**32 - 1))


def test_model_other_than_1_5_pro_is_refused() -> None:
    assert_names(refused(model="doubao-seedance-1-0-pro"), "model", "doubao-seedance-1-0-pro", "1.5 Pro")


# ---- image_urls ------------------------------------------------------------------------------


@pytest.mark.parametrize("count", range(7))
def test_zero_to_six_image_urls_are_accepted(count: int) -> None:
    urls = [URL.format(i) for i in range(count)]
    request = GenerationRequest("p", image_urls=urls)
    assert request.image_urls == tuple(urls)


def test_seven_image_urls_are_refused() -> None:
    err = refused(image_urls=[URL.format(i) for i in range(7)])
    assert_names(err, "image_urls", "7", "at most 6")


def test_image_urls_get_roles_by_count() -> None:
    def roles(count: int) -> list[str]:
        return [
            r.role for r in GenerationRequest("p", image_urls=[URL.format(i) for i in range(count)]).roles
        ]

    assert roles(1) == ["first_frame"]
    assert roles(2) == ["first_frame", "last_frame"]
    assert roles(6) == ["first_frame", "last_frame"] + ["reference_image"] * 4


@pytest.mark.parametrize(
    "url",
    [
        "ftp://files.example/a.png",
        "file:///home/me/a.png",
        "/home/me/a.png",
        "files.example/a.png",
        "http://",
        "",
        None,
        123,
    ],
)
def test_image_urls_must_be_http(url: object) -> None:
    err = refused(image_urls=[URL.format(0), url])
    assert_names(err, "image_urls", repr(url), "http(s) URL")


def test_data_url_is_refused_with_the_upload_hint() -> None:
    data_url = "data:image/png;base64," + "A" * 500
    err = refused(image_urls=[data_url])
    assert_names(err, "image_urls", "data:image/png;base64,AAA", "upload", "base64")
    assert len(str(err)) < 400  # the value is shortened, not pasted whole


def test_a_single_string_is_not_a_list_of_urls() -> None:
    assert_names(refused(image_urls=URL.format(0)), "image_urls", "single string")


# ---- image_with_roles --------------------------------------------------------------------------


def test_all_roles_together_are_accepted() -> None:
    roles = [
        ImageRole(URL.format(0), "first_frame"),
        ImageRole(URL.format(1), "last_frame"),
        *(ImageRole(URL.format(i), "reference_image") for i in range(2, 6)),
    ]
    assert GenerationRequest("p", image_with_roles=roles).roles == tuple(roles)


def test_roles_given_as_dicts_become_image_roles() -> None:
    request = GenerationRequest("p", image_with_roles=[{"url": URL.format(0), "role": "last_frame"}])
    assert request.image_with_roles == (ImageRole(URL.format(0), "last_frame"),)


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_one_to_four_reference_images_are_accepted(count: int) -> None:
    roles = [ImageRole(URL.format(i), "reference_image") for i in range(count)]
    assert len(GenerationRequest("p", image_with_roles=roles).roles) == count


def test_five_reference_images_are_refused() -> None:
    err = refused(image_with_roles=[ImageRole(URL.format(i), "reference_image") for i in range(5)])
    assert_names(err, "image_with_roles", "5 reference images", "at most 4")


@pytest.mark.parametrize("role", ["first_frame", "last_frame"])
def test_two_first_or_last_frames_are_refused(role: str) -> None:
    err = refused(
        image_with_roles=[{"url": URL.format(0), "role": role}, {"url": URL.format(1), "role": role}]
    )
    assert_names(err, "image_with_roles", f"2 images with role {role}", "at most one")


def test_old_role_name_reference_is_refused_with_the_new_name() -> None:
    with pytest.raises(ValidationError) as info:
        ImageRole(URL.format(0), "reference")
    assert_names(info.value, "image_with_roles.role", "'reference'", "'reference_image'", "1.0")
    err = refused(image_with_roles=[{"url": URL.format(0), "role": "reference"}])
    assert_names(err, "image_with_roles.role", "'reference'", "reference_image")


@pytest.mark.parametrize("role", ["first", "Reference_Image", "", None])
def test_unknown_roles_are_refused_with_the_list(role: object) -> None:
    err = refused(image_with_roles=[{"url": URL.format(0), "role": role}])
    assert_names(err, "image_with_roles.role", repr(role), "first_frame, last_frame, reference_image")


def test_role_urls_must_be_http() -> None:
    err = refused(image_with_roles=[{"url": "data:image/png;base64,AAAA", "role": "first_frame"}])
    assert_names(err, "image_with_roles.url", "data:image/png", "http(s) URL")


def test_role_items_must_be_objects() -> None:
    assert_names(refused(image_with_roles=[URL.format(0)]), "image_with_roles", URL.format(0), "'url'")


def test_both_image_lists_are_refused() -> None:
    err = refused(image_urls=[URL.format(0)], image_with_roles=[ImageRole(URL.format(1), "last_frame")])
    assert_names(err, "image_urls", "image_with_roles", "not both")


# ---- derived ----------------------------------------------------------------------------------


def test_replace_validates_again() -> None:
    request = GenerationRequest("p", duration=6)
    assert request.replace(duration=7).duration == 7
    with pytest.raises(ValidationError):
        request.replace(duration=13)


def test_requests_are_immutable_and_hashable() -> None:
    request = GenerationRequest("p", image_urls=[URL.format(0)])
    assert hash(request) == hash(GenerationRequest("p", image_urls=(URL.format(0),)))
    with pytest.raises(AttributeError):
        request.duration = 9  # type: ignore[misc]


@pytest.mark.parametrize(
    ("resolution", "audio", "duration", "usd"),
    [("480p", False, 5, 0.06), ("480p", True, 5, 0.12), ("720p", False, 5, 0.13), ("720p", True, 5, 0.26),
     ("720p", True, 10, 0.52), ("480p", False, 4, 0.048)],
)  # fmt: skip
def test_cost_estimates_follow_the_contracts_list(
    resolution: str, audio: bool, duration: int, usd: float
) -> None:
    assert estimate_cost_usd(resolution, audio, duration) == pytest.approx(usd)
    request = GenerationRequest("p", resolution=resolution, audio=audio, duration=duration)
    assert request_cost_usd(request) == pytest.approx(usd)

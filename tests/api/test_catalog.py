"""The model catalogue (api/catalog.py): every spec holds together, and 1.5 Pro is today's 1.5 Pro.

Pure data, no network: these tests read the specs and the helpers that read only the specs.
The 1.5 Pro comparison imports today's constants from api/models.py, so the later switch to the
catalogue cannot change a limit, a size or an estimate for 1.5 Pro users.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pickle

import pytest

from seedance_widgets.api import models
from seedance_widgets.api.catalog import (
    ADAPTIVE,
    ARK_BYTEPLUS,
    ARK_VOLCENGINE,
    DEFAULT_MODEL,
    KNOWN_PARAMS,
    MODELS,
    SIX_RATIOS,
    ModelSpec,
    body_name,
    estimate_usd,
    limits_json,
    models_allowing,
    output_size,
    spec_for,
)
from seedance_widgets.api.errors import ValidationError

ALL_IDS = (
    "doubao-seedance-1-0-pro-fast",
    "doubao-seedance-1-0-pro-quality",
    "doubao-seedance-1-5-pro",
    "doubao-seedance-2-0",
    "doubao-seedance-2-0-fast",
    "seedance-2",
    "seedance-2-fast",
    "seedance-2-mini",
    "seedance-2-5",
)
SPEC_FIELDS = {f.name for f in dataclasses.fields(ModelSpec)}
specs = pytest.mark.parametrize("spec", list(MODELS.values()), ids=list(MODELS))


def test_the_catalogue_holds_every_gateway_model_and_defaults_to_15_pro() -> None:
    assert tuple(MODELS) == ALL_IDS
    assert DEFAULT_MODEL == "doubao-seedance-1-5-pro" == models.MODEL
    assert all(spec.id == key for key, spec in MODELS.items())


# ---- every spec is internally consistent ---------------------------------------------------


@specs
def test_defaults_lie_inside_the_ranges(spec: ModelSpec) -> None:
    d = spec.durations
    assert 0 < d.min <= d.max
    assert d.min <= spec.default_duration <= d.max
    assert all(v <= 0 for v in d.auto_values), "an auto value is -1 or 0, never a real length"
    assert d.auto == (d.auto_values[0] if d.auto_values else None)
    assert spec.default_resolution in spec.resolutions
    assert spec.default_ratio in spec.ratios
    assert len(set(spec.ratios)) == len(spec.ratios)
    assert set(spec.ratios) <= {*SIX_RATIOS, ADAPTIVE}
    if spec.seed is not None:
        assert spec.seed[0] < spec.seed[1]


@specs
def test_every_resolution_has_a_size_table_or_is_marked_unknown(spec: ModelSpec) -> None:
    # A key per listed resolution: a table, or None meaning "nobody confirmed the sizes".
    assert set(spec.output_sizes) == set(spec.resolutions)
    fixed_ratios = set(spec.ratios) - {ADAPTIVE}
    for resolution, table in spec.output_sizes.items():
        if table is None:
            continue
        assert set(table) == fixed_ratios, f"{spec.id} {resolution}: a size for every fixed ratio"
        for ratio, (width, height) in table.items():
            assert width > 0
            assert height > 0
            assert width % 2 == 0, f"{spec.id} {resolution} {ratio}: odd width"
            assert height % 2 == 0, f"{spec.id} {resolution} {ratio}: odd height"
            w, h = (int(x) for x in ratio.split(":"))
            # The table's shape follows its ratio (the encoder rounds, so within 5 %).
            assert math.isclose(width / height, w / h, rel_tol=0.05), (spec.id, resolution, ratio)


@specs
def test_placement_names_only_known_params_and_matches_the_features(spec: ModelSpec) -> None:
    assert set(spec.placement) <= KNOWN_PARAMS
    assert set(spec.placement.values()) <= {"top", "metadata"}
    assert {"duration", "aspect_ratio", "resolution"} <= set(spec.placement)
    assert ("audio" in spec.placement) == (spec.audio != "none")
    assert (spec.audio_field is None) == (spec.audio == "none")
    assert ("camera_fixed" in spec.placement) == spec.supports_camera_fixed
    assert ("return_last_frame" in spec.placement) == spec.last_frame
    assert ("web_search" in spec.placement) == spec.web_search
    assert ("seed" in spec.placement) == (spec.seed is not None)
    assert ("output_format" in spec.placement) == (len(spec.output_formats) > 1)
    assert ("video_operation" in spec.placement) == bool(spec.video_operations)


@specs
def test_a_price_is_none_or_positive_and_only_for_offered_settings(spec: ModelSpec) -> None:
    if spec.price is None:
        return
    assert spec.price.per_seconds in (1, 5)
    assert spec.price.source.startswith("https://")
    assert spec.price.usd, "a price table with no rows should be None"
    for (resolution, audio), usd in spec.price.usd.items():
        assert resolution in spec.resolutions
        assert not audio or spec.audio != "none"
        assert math.isfinite(usd)
        assert usd > 0


@specs
def test_image_roles_and_reference_media_are_coherent(spec: ModelSpec) -> None:
    images = spec.images
    assert min(images.max_first, images.max_last, images.max_references) >= 0
    assert (images.reference_role is not None) == (images.max_references > 0)
    assert images.reference_role in (None, "reference", "reference_image")
    assert images.max_image_urls is None or images.max_image_urls >= 1
    if images.reference_resolutions is not None:
        assert set(images.reference_resolutions) < set(spec.resolutions)
    for refs in (spec.video_refs, spec.audio_refs):
        if refs is None:
            continue
        assert refs.max_count > 0
        assert refs.formats
        assert refs.role in ("reference_video", "reference_audio")
        if refs.min_seconds is not None and refs.max_seconds is not None:
            assert 0 < refs.min_seconds <= refs.max_seconds
        if refs.max_seconds is not None and refs.max_total_seconds is not None:
            assert refs.max_seconds <= refs.max_total_seconds
    # "Audio never alone" only means something where there is reference audio.
    assert not spec.audio_alone or spec.audio_refs is not None


@specs
def test_sources_ids_and_unconfirmed_marks_are_well_formed(spec: ModelSpec) -> None:
    assert spec.label.strip()
    assert spec.sources
    assert all(url.startswith("https://") for url in spec.sources)
    assert set(spec.ark_ids) <= {ARK_VOLCENGINE, ARK_BYTEPLUS}
    assert all(
        v.startswith(("doubao-seedance-", "seedance-", "dreamina-seedance-")) for v in spec.ark_ids.values()
    )
    for mark in spec.unconfirmed:
        assert mark.split(".")[0] in SPEC_FIELDS, f"{spec.id}: {mark!r} names no spec field"


@specs
def test_specs_are_read_only(spec: ModelSpec) -> None:
    # Shared module data: a caller must not be able to change a limit for everyone else.
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.default_duration = 99  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.placement["resolution"] = "top"  # type: ignore[index]
    with pytest.raises(TypeError):
        spec.output_sizes["480p"] = None  # type: ignore[index]
    table = next((t for t in spec.output_sizes.values() if t is not None), None)
    if table is not None:
        with pytest.raises(TypeError):
            table["16:9"] = (2, 2)  # type: ignore[index]


# ---- spec_for ----------------------------------------------------------------------------


def test_spec_for_returns_the_spec_of_a_known_id() -> None:
    for model_id in ALL_IDS:
        assert spec_for(model_id) is MODELS[model_id]


@pytest.mark.parametrize("bad", ["kling-1", "", None, 15, ["seedance-2"]])
def test_spec_for_an_unknown_id_lists_every_known_id(bad: object) -> None:
    with pytest.raises(ValidationError) as caught:
        spec_for(bad)
    err = caught.value
    assert err.field == "model"
    assert err.value == bad
    for model_id in ALL_IDS:
        assert model_id in str(err)
        assert model_id in err.allowed
    assert "did you mean" not in str(err)
    # Errors travel between processes (the engine's workers) with their facts intact.
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err)
    assert again.field == "model"


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("seedance-2.0", "seedance-2"),
        ("Seedance-2-Fast", "seedance-2-fast"),
        ("doubao-seedance-1-5", "doubao-seedance-1-5-pro"),
        ("doubao-seedance-1.5-pro", "doubao-seedance-1-5-pro"),
        ("seedance-2-min", "seedance-2-mini"),
    ],
)
def test_spec_for_a_near_miss_suggests_the_model_meant(typed: str, meant: str) -> None:
    with pytest.raises(ValidationError, match=f"did you mean '{meant}'"):
        spec_for(typed)


# ---- 1.5 Pro equals today's constants -----------------------------------------------------


def test_15_pro_limits_equal_todays_constants() -> None:
    spec = spec_for(models.MODEL)
    defaults = models.GenerationRequest(prompt="x")
    assert spec.ratios == models.ASPECT_RATIOS
    assert spec.resolutions == models.RESOLUTIONS
    assert (spec.durations.min, spec.durations.max) == (models.MIN_DURATION, models.MAX_DURATION)
    assert spec.durations.auto is None
    assert spec.default_duration == models.DEFAULT_DURATION == defaults.duration
    assert spec.default_ratio == defaults.aspect_ratio
    assert spec.default_resolution == defaults.resolution
    assert spec.seed == (models.MIN_SEED, models.MAX_SEED)
    assert spec.fps == models.FPS
    assert spec.images.max_image_urls == models.MAX_IMAGE_URLS
    assert spec.images.max_references == models.MAX_REFERENCE_IMAGES
    assert spec.images.roles == models.ROLES
    assert spec.audio == "optional"
    assert spec.supports_camera_fixed
    assert {res: dict(table or {}) for res, table in spec.output_sizes.items()} == models.OUTPUT_SIZES


def test_15_pro_sizes_and_estimates_equal_todays_functions() -> None:
    spec = spec_for(models.MODEL)
    for resolution in models.RESOLUTIONS:
        for ratio in models.ASPECT_RATIOS:
            assert output_size(spec, resolution, ratio) == models.output_size(resolution, ratio)
        for audio in (False, True):
            for seconds in range(models.MIN_DURATION, models.MAX_DURATION + 1):
                today = models.estimate_cost_usd(resolution, audio, seconds)
                assert estimate_usd(spec, resolution, seconds, audio) == today, (resolution, audio, seconds)


def test_15_pro_placement_matches_the_body_sent_today() -> None:
    spec = spec_for(models.MODEL)
    body = models.GenerationRequest(prompt="x", seed=7, audio=True, camera_fixed=True).to_body()
    for param, where in spec.placement.items():
        name = body_name(spec, param)
        holder = body["metadata"] if where == "metadata" else body
        assert name in holder, f"{param} should be sent as {where} {name!r}"
    assert set(body["metadata"]) == {body_name(spec, p) for p, w in spec.placement.items() if w == "metadata"}


# ---- limits_json, models_allowing, estimates, sizes ---------------------------------------


@specs
def test_limits_json_round_trips_through_json(spec: ModelSpec) -> None:
    limits = limits_json(spec)
    assert json.loads(json.dumps(limits, allow_nan=False)) == limits
    assert limits["id"] == spec.id
    assert limits["label"] == spec.label
    assert limits["durations"]["default"] == spec.default_duration
    assert limits["placement"] == dict(spec.placement)
    for resolution in spec.resolutions:
        for ratio in spec.ratios:
            size = output_size(spec, resolution, ratio)
            table = limits["output_sizes"][resolution]
            assert (table or {}).get(ratio) == (None if size is None else list(size))


def test_limits_json_of_15_pro_carries_the_numbers_the_form_needs() -> None:
    limits = limits_json(spec_for(DEFAULT_MODEL))
    assert limits["output_sizes"]["720p"]["21:9"] == [1470, 630]
    assert limits["camera_fixed"] == {"supported": True, "field": "camerafixed"}
    assert limits["audio"] == {"mode": "optional", "field": "audio"}
    assert limits["images"]["roles"] == ["first_frame", "last_frame", "reference_image"]
    assert {"resolution": "720p", "audio": True, "usd": 0.26} in limits["price"]["rows"]


def test_models_allowing_1080p_names_the_models_that_render_it() -> None:
    assert models_allowing(resolution="1080p") == (
        "doubao-seedance-1-0-pro-fast",
        "doubao-seedance-1-0-pro-quality",
        "seedance-2",
    )
    assert DEFAULT_MODEL not in models_allowing(resolution="1080p")
    assert models_allowing(resolution="4k") == ("seedance-2",)


def test_models_allowing_filters_on_every_setting() -> None:
    assert models_allowing() == ALL_IDS
    assert models_allowing(duration=30) == ("seedance-2-5",)
    assert models_allowing(duration=-1) == (
        "doubao-seedance-2-0",
        "doubao-seedance-2-0-fast",
        "seedance-2",
        "seedance-2-fast",
        "seedance-2-5",
    )
    assert models_allowing(duration=2) == ("doubao-seedance-1-0-pro-fast", "doubao-seedance-1-0-pro-quality")
    assert models_allowing(ratio=ADAPTIVE) == (
        "doubao-seedance-2-0",
        "doubao-seedance-2-0-fast",
        "seedance-2-5",
    )
    assert not set(models_allowing(audio=True)) & {
        "doubao-seedance-1-0-pro-fast",
        "doubao-seedance-1-0-pro-quality",
    }
    assert models_allowing(camera_fixed=True) == (DEFAULT_MODEL,)
    assert models_allowing(reference_images=10) == ("seedance-2-5",)
    assert DEFAULT_MODEL not in models_allowing(reference_videos=1)
    assert models_allowing(reference_audios=4) == ("seedance-2-5",)
    assert models_allowing(resolution="1080p", audio=True) == ("seedance-2",)
    assert "doubao-seedance-1-0-pro-fast" not in models_allowing(last_frame=True)
    assert set(models_allowing(web_search=True)) == {
        "doubao-seedance-2-0",
        "doubao-seedance-2-0-fast",
        "seedance-2",
        "seedance-2-fast",
        "seedance-2-mini",
    }


def test_estimates_scale_with_length_and_refuse_to_guess() -> None:
    s2 = spec_for("seedance-2")
    assert estimate_usd(s2, "720p", 10, True) == pytest.approx(2 * estimate_usd(s2, "720p", 5, True))  # type: ignore[operator]
    # Audio is included in 2.x prices: the switch does not change the estimate.
    assert estimate_usd(s2, "720p", 8, False) == estimate_usd(s2, "720p", 8, True)
    # No list price for 4k; none for sound on a silent model; none when the model picks the length.
    assert estimate_usd(s2, "4k", 5, True) is None
    assert estimate_usd(spec_for("doubao-seedance-1-0-pro-fast"), "720p", 5, True) is None
    assert estimate_usd(s2, "720p", -1, True) is None
    assert estimate_usd(s2, "720p", 0, True) is None
    assert estimate_usd(s2, "720p", True, True) is None  # type: ignore[arg-type]
    assert estimate_usd(s2, "1440p", 5, True) is None


def test_estimates_use_the_spec_price_unit() -> None:
    spec = spec_for(DEFAULT_MODEL)
    assert spec.price is not None
    assert spec.price.per_seconds == 5
    assert estimate_usd(spec, "480p", 10, False) == 0.12  # two 5 s clips at $0.06
    s2 = spec_for("seedance-2-fast")
    assert s2.price is not None
    assert s2.price.per_seconds == 1
    assert estimate_usd(s2, "480p", 5, False) == pytest.approx(5 * s2.price.usd[("480p", False)])


def test_output_size_is_none_where_no_size_is_known() -> None:
    assert output_size(spec_for("doubao-seedance-2-0"), "720p", ADAPTIVE) is None
    assert output_size(spec_for("seedance-2"), "1080p", "16:9") is None
    assert output_size(spec_for("seedance-2-5"), "720p", "16:9") is None
    assert output_size(spec_for(DEFAULT_MODEL), "1080p", "16:9") is None
    assert output_size(spec_for("doubao-seedance-1-0-pro-quality"), "1080p", "16:9") == (1920, 1088)

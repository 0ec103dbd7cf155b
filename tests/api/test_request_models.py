"""GenerationRequest against every model of the catalogue: validation reads only the spec, the
ToAPIs body puts each parameter where the model reads it, and bodies (old and new) round-trip.

Expected values come from the spec itself or are typed in from the gateway's pages (section A
of the models digest), so a slip in the request's rules, the protocol or the spec shows.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seedance_widgets.api import (
    DEFAULT_MODEL,
    MODEL_DEFAULT,
    MODELS,
    GenerationRequest,
    ImageRole,
    MediaRole,
    ModelSpec,
    NoEstimateError,
    Task,
    ValidationError,
    models_allowing,
    request_cost_usd,
    request_estimate_usd,
)
from seedance_widgets.api.catalog import ADAPTIVE, body_name
from seedance_widgets.api.protocols import toapis

specs = pytest.mark.parametrize("spec", list(MODELS.values()), ids=list(MODELS))
IMG = "https://files.example/img/{}.png"
VID = "https://files.example/vid/{}.mp4"
AUD = "https://files.example/aud/{}.wav"
#: Resolutions a person may ask for, lowest first.
LADDER = ("480p", "720p", "1080p", "4k")

#: A record exactly as an earlier version wrote it to ledger.jsonl (1.5 Pro only, no model field
#: missing, metadata placement), copied from a real run.
OLD_LEDGER_LINE = (
    '{"v":1,"at":1796065942.851,"event":"intent","owner":"ba9ee3b194a0","job":"job-d0ef453255",'
    '"request_hash":"04ed223228ee672eb78f4617fadb3df57e91a453b3f9fa1d99462b8c1985177a",'
    '"request":{"model":"doubao-seedance-1-5-pro","prompt":"a canary fox in the snow","duration":4,'
    '"aspect_ratio":"16:9","metadata":{"resolution":"480p","audio":false}},"state":"intent",'
    '"cost_estimate":0.048}'
)


def make(spec: ModelSpec, **fields: Any) -> GenerationRequest:
    return GenerationRequest("a fox in the snow", model=spec.id, **fields)


def refusal(spec: ModelSpec, **fields: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        make(spec, **fields)
    err = info.value
    assert spec.id in str(err) or spec.label in str(err), f"the model is not named: {err}"
    return err


def images(role: str, count: int) -> list[dict[str, str]]:
    return [{"url": IMG.format(f"{role}{i}"), "role": role} for i in range(count)]


def media(role: str, count: int) -> list[dict[str, str]]:
    return [
        {"url": (VID if role == "reference_video" else AUD).format(i), "role": role} for i in range(count)
    ]


# ---- validation follows the spec ------------------------------------------------------------


@specs
def test_validation_follows_the_spec(spec: ModelSpec) -> None:
    """Every allowed value is accepted; the first value past each limit is refused naming the model."""
    _durations(spec)
    _ratios_and_resolutions(spec)
    _switches_and_seed(spec)
    _image_roles_and_counts(spec)
    _reference_media(spec)
    _defaults(spec)


def _durations(spec: ModelSpec) -> None:
    d = spec.durations
    for seconds in (*range(d.min, d.max + 1), *d.auto_values):
        assert make(spec, duration=seconds).duration == seconds
    for seconds in (d.min - 1, d.max + 1):
        if seconds in d.auto_values:
            continue
        err = refusal(spec, duration=seconds)
        assert err.field == "duration"
        assert f"from {d.min} to {d.max}" in str(err)
        others = [m for m in models_allowing(duration=seconds) if m != spec.id]
        for other in others:
            assert other in str(err), f"{other} allows {seconds} s and is not named: {err}"
    if -1 not in d.auto_values:
        assert refusal(spec, duration=-1).field == "duration"


def _ratios_and_resolutions(spec: ModelSpec) -> None:
    for ratio in spec.ratios:
        for resolution in spec.resolutions:
            request = make(spec, aspect_ratio=ratio, resolution=resolution)
            if ratio != ADAPTIVE:
                assert request.size[0] > 0
            known = spec.output_sizes.get(resolution)
            assert request.known_size == (known.get(ratio) if known else None)
    if ADAPTIVE not in spec.ratios:
        err = refusal(spec, aspect_ratio=ADAPTIVE)
        assert err.field == "aspect_ratio"
        for other in models_allowing(ratio=ADAPTIVE):
            assert other in str(err)
    for resolution in (r for r in LADDER if r not in spec.resolutions):
        err = refusal(spec, resolution=resolution)
        assert err.field == "resolution"
        assert all(r in str(err) for r in spec.resolutions)
        for other in models_allowing(resolution=resolution):
            assert other in str(err)


def _switches_and_seed(spec: ModelSpec) -> None:
    supported = {
        "audio": spec.audio != "none",
        "camera_fixed": spec.supports_camera_fixed,
        "return_last_frame": spec.last_frame,
        "web_search": spec.web_search,
    }
    for name, ok in supported.items():
        assert getattr(make(spec, **{name: False}), name) is False
        if ok:
            assert getattr(make(spec, **{name: True}), name) is True
        else:
            assert refusal(spec, **{name: True}).field == name
    if spec.seed is None:
        assert refusal(spec, seed=1).field == "seed"
        return
    lo, hi = spec.seed
    assert make(spec, seed=lo).seed == lo
    assert make(spec, seed=hi).seed == hi
    for bad in (lo - 1, hi + 1):
        assert refusal(spec, seed=bad).field == "seed"


def _image_roles_and_counts(spec: ModelSpec) -> None:
    limits = {
        "first_frame": spec.images.max_first,
        "last_frame": spec.images.max_last,
        "reference_image": spec.images.max_references,
    }
    for role, most in limits.items():
        if most:
            assert len(make(spec, image_with_roles=images(role, most)).roles) == most
        err = refusal(spec, image_with_roles=images(role, most + 1))
        assert err.field == "image_with_roles"
    if spec.images.max_first and spec.images.max_references:
        both = images("first_frame", 1) + images("reference_image", 1)
        if spec.images.modes_mix:
            assert len(make(spec, image_with_roles=both).roles) == 2
        else:
            assert "pick one mode" in str(refusal(spec, image_with_roles=both))
    # Seedance 1.0 calls a reference image 'reference' on the wire; every other model refuses it.
    old_name = [{"url": IMG.format(0), "role": "reference"}]
    if spec.images.reference_role == "reference":
        assert make(spec, image_with_roles=old_name).roles == (ImageRole(IMG.format(0), "reference_image"),)
    else:
        err = refusal(spec, image_with_roles=old_name)
        assert err.field == "image_with_roles.role"
        assert "'reference_image'" in str(err)
    urls = [IMG.format(i) for i in range(spec.images.max_image_urls or 1)]
    if spec.images.max_image_urls:
        assert make(spec, image_urls=urls).image_urls == tuple(urls)
        assert refusal(spec, image_urls=[*urls, IMG.format(99)]).field == "image_urls"
    else:
        assert refusal(spec, image_urls=urls).field == "image_urls"
    if spec.images.reference_resolutions is not None and spec.images.max_references:
        for resolution in spec.resolutions:
            refs = images("reference_image", 1)
            if resolution in spec.images.reference_resolutions:
                make(spec, image_with_roles=refs, resolution=resolution)
            else:
                assert refusal(spec, image_with_roles=refs, resolution=resolution).field == "resolution"


def _reference_media(spec: ModelSpec) -> None:
    company = {"image_with_roles": images("reference_image", 1)} if spec.images.max_references else {}
    for role, refs, field in (
        ("reference_video", spec.video_refs, "video_with_roles"),
        ("reference_audio", spec.audio_refs, "audio_with_roles"),
    ):
        most = refs.max_count if refs else 0
        if most:
            request = make(spec, **{field: media(role, most)}, **company)
            assert getattr(request, field) == tuple(MediaRole(m["url"], role) for m in media(role, most))
        err = refusal(spec, **{field: media(role, most + 1)}, **company)
        assert err.field == field
    if spec.audio_refs is not None:
        alone = {"audio_with_roles": media("reference_audio", 1)}
        if spec.audio_alone:
            make(spec, **alone)
        else:
            assert "cannot be used alone" in str(refusal(spec, **alone))
    if spec.video_refs is not None and spec.images.max_first and not spec.images.modes_mix:
        mixed = {
            "image_with_roles": images("first_frame", 1),
            "video_with_roles": media("reference_video", 1),
        }
        assert "pick one mode" in str(refusal(spec, **mixed))


def _defaults(spec: ModelSpec) -> None:
    request = make(spec)
    assert request.duration == spec.default_duration
    assert request.aspect_ratio == spec.default_ratio
    assert request.resolution == spec.default_resolution
    assert request.audio is (spec.audio == "default_on")
    assert request == make(
        spec,
        duration=spec.default_duration,
        aspect_ratio=spec.default_ratio,
        resolution=spec.default_resolution,
        audio=spec.audio == "default_on",
    )


# ---- the ToAPIs body ------------------------------------------------------------------------


def everything_on(spec: ModelSpec) -> GenerationRequest:
    """A request of this model using every parameter the model takes."""
    fields: dict[str, Any] = {"seed": 42, "image_with_roles": images("reference_image", 1)}
    if spec.audio != "none":
        fields["audio"] = True
    for name, ok in (
        ("camera_fixed", spec.supports_camera_fixed),
        ("return_last_frame", spec.last_frame),
        ("web_search", spec.web_search),
    ):
        if ok:
            fields[name] = True
    if spec.video_refs:
        fields["video_with_roles"] = media("reference_video", 1)
    if spec.audio_refs:
        fields["audio_with_roles"] = media("reference_audio", 1)
    return make(spec, **fields)


@specs
def test_each_parameter_sits_where_the_model_reads_it(spec: ModelSpec) -> None:
    body = toapis.build_body(everything_on(spec), client_business_id="intent-1")
    meta = body.get("metadata", {})
    for param, where in spec.placement.items():
        if param in ("output_format", "video_operation"):
            continue  # not offered by requests (always mp4 / generate)
        name = body_name(spec, param)
        holder, other = (meta, body) if where == "metadata" else (body, meta)
        assert name in holder, f"{spec.id}: {param} should be {where} {name!r}: {body}"
        assert name not in other, f"{spec.id}: {name!r} also sits in the wrong place"
    assert body["client_business_id"] == "intent-1"
    assert "client_business_id" not in meta
    if spec.web_search:
        holder = meta if spec.placement["web_search"] == "metadata" else body
        assert holder["tools"] == [{"type": "web_search"}]
    if spec.images.reference_role == "reference":
        assert body["image_with_roles"] == [{"url": IMG.format("reference_image0"), "role": "reference"}]
    assert json.loads(json.dumps(body)) == body


def test_the_gateway_pages_placement_in_plain_terms() -> None:
    """The digest's table, typed in: 1.5 Pro and doubao-2.0 in metadata, seedance-2 at the top, 1.0 mixed."""
    b15 = make(MODELS["doubao-seedance-1-5-pro"], seed=1, audio=True, camera_fixed=True).to_body()
    assert b15["metadata"] == {"resolution": "720p", "audio": True, "seed": 1, "camerafixed": True}
    b20 = make(MODELS["doubao-seedance-2-0"], seed=1, return_last_frame=True, web_search=True).to_body()
    assert b20["metadata"] == {
        "resolution": "720p",
        "generate_audio": True,
        "seed": 1,
        "return_last_frame": True,
        "tools": [{"type": "web_search"}],
    }
    b2 = make(MODELS["seedance-2"], seed=1, resolution="1080p", duration=15, return_last_frame=True).to_body()
    assert "metadata" not in b2
    assert (b2["resolution"], b2["generate_audio"], b2["seed"], b2["duration"]) == ("1080p", True, 1, 15)
    b10 = make(MODELS["doubao-seedance-1-0-pro-fast"], seed=1, resolution="1080p").to_body()
    assert (b10["resolution"], b10["metadata"]) == ("1080p", {"seed": 1})


@settings(max_examples=300, database=None, deadline=None)
@given(st.data())
def test_any_request_of_any_model_round_trips_through_its_body(data: st.DataObject) -> None:
    spec = data.draw(st.sampled_from(list(MODELS.values())))
    d = spec.durations
    fields: dict[str, Any] = {
        "duration": data.draw(st.sampled_from([*range(d.min, d.max + 1), *d.auto_values])),
        "aspect_ratio": data.draw(st.sampled_from(spec.ratios)),
        "resolution": data.draw(st.sampled_from(spec.images.reference_resolutions or spec.resolutions)),
        "seed": data.draw(st.none() | st.integers(*spec.seed)) if spec.seed else None,
    }
    for name, ok in (
        ("audio", spec.audio != "none"),
        ("camera_fixed", spec.supports_camera_fixed),
        ("return_last_frame", spec.last_frame),
        ("web_search", spec.web_search),
    ):
        if ok:
            fields[name] = data.draw(st.booleans())
    if data.draw(st.booleans()):  # frames mode
        fields["image_with_roles"] = images("first_frame", min(1, spec.images.max_first))
    else:  # reference mode
        fields["image_with_roles"] = images(
            "reference_image", data.draw(st.integers(0, spec.images.max_references))
        )
        if spec.video_refs:
            fields["video_with_roles"] = media(
                "reference_video", data.draw(st.integers(0, spec.video_refs.max_count))
            )
    request = make(spec, **fields)
    body = json.loads(json.dumps(request.to_body()))
    again = toapis.request_from_body(body)
    assert again == request
    assert again.to_body() == body
    assert again.neutral() == request.neutral()


@specs
def test_a_misplaced_parameter_is_refused_naming_where_it_belongs(spec: ModelSpec) -> None:
    body = everything_on(spec).to_body()
    for param, where in spec.placement.items():
        name = body_name(spec, param)
        moved = json.loads(json.dumps(body))
        source = moved.setdefault("metadata", {}) if where == "metadata" else moved
        if name not in source:
            continue
        value = source.pop(name)
        (moved if where == "metadata" else moved.setdefault("metadata", {}))[name] = value
        with pytest.raises(ValidationError) as info:
            toapis.request_from_body(moved)
        text = str(info.value)
        assert spec.id in text
        assert name in text
        assert ("inside metadata" if where == "metadata" else "at the top level") in text


@pytest.mark.parametrize(
    ("model", "body_extra", "words"),
    [
        (
            "doubao-seedance-1-5-pro",
            {"metadata": {"generate_audio": True}},
            ["generate_audio", "metadata.audio"],
        ),
        ("doubao-seedance-2-0", {"metadata": {"audio": True}}, ["metadata.audio", "metadata.generate_audio"]),
        ("seedance-2", {"camerafixed": True}, ["camerafixed", "not a parameter"]),
        ("seedance-2", {"tools": [{"type": "code"}]}, ["tools", "web_search"]),
        (
            "doubao-seedance-1-0-pro-fast",
            {"return_last_frame": True},
            ["return_last_frame", "not a parameter"],
        ),
        ("seedance-2", {"metadata": {"video_with_roles": []}}, ["video_with_roles", "top level"]),
    ],
)
def test_parameters_of_another_model_are_refused(
    model: str, body_extra: dict[str, Any], words: list[str]
) -> None:
    body = {"model": model, "prompt": "p", **body_extra}
    with pytest.raises(ValidationError) as info:
        toapis.request_from_body(body)
    for word in words:
        assert word in str(info.value)


def test_a_1_0_body_must_use_the_1_0_role_name() -> None:
    body = {
        "model": "doubao-seedance-1-0-pro-quality",
        "prompt": "p",
        "image_with_roles": [{"url": IMG.format(0), "role": "reference_image"}],
    }
    with pytest.raises(ValidationError, match="'reference' on the wire"):
        toapis.request_from_body(body)
    body["image_with_roles"][0]["role"] = "reference"
    assert toapis.request_from_body(body).roles == (ImageRole(IMG.format(0), "reference_image"),)


# ---- old ledgers ---------------------------------------------------------------------------------


def test_a_body_from_an_old_ledger_parses_and_keeps_its_bytes_and_hash() -> None:
    record = json.loads(OLD_LEDGER_LINE)
    request = GenerationRequest.from_body(record["request"])
    assert (request.model, request.duration, request.resolution, request.audio) == (
        DEFAULT_MODEL,
        4,
        "480p",
        False,
    )
    assert request.to_body() == record["request"]
    # The old cache key was sha256 of the body as canonical JSON: recomputable from the parsed request.
    import hashlib

    text = json.dumps(request.to_body(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(text.encode()).hexdigest() == record["request_hash"]


def test_a_body_without_a_model_is_a_1_5_pro_body() -> None:
    assert (
        GenerationRequest.from_body({"prompt": "p", "metadata": {"resolution": "480p"}}).model
        == DEFAULT_MODEL
    )


# ---- refusals that name other models ---------------------------------------------------------


def test_1080p_on_1_5_pro_is_refused_naming_the_models_that_allow_it() -> None:
    with pytest.raises(ValidationError) as info:
        GenerationRequest("p", resolution="1080p")
    text = str(info.value)
    assert "Seedance 1.5 Pro tops out at 720p" in text
    assert "doubao-seedance-1-5-pro" in text
    assert "1080p: doubao-seedance-1-0-pro-fast, doubao-seedance-1-0-pro-quality, seedance-2" in text


def test_an_unknown_model_lists_the_known_ones() -> None:
    with pytest.raises(ValidationError) as info:
        GenerationRequest("p", model="seedance-3")
    assert info.value.field == "model"
    assert all(model_id in str(info.value) for model_id in MODELS)


# ---- neutral forms and estimates ---------------------------------------------------------------


def test_equal_intent_gives_an_equal_neutral_description() -> None:
    by_count = GenerationRequest("p", image_urls=[IMG.format(0), IMG.format(1)])
    by_role = GenerationRequest(
        "p",
        image_with_roles=[ImageRole(IMG.format(0), "first_frame"), ImageRole(IMG.format(1), "last_frame")],
    )
    assert by_count != by_role  # different bodies ...
    assert by_count.neutral() == by_role.neutral()  # ... the same intent
    assert GenerationRequest("p").neutral() == GenerationRequest("p", duration=5, audio=False).neutral()
    plain = GenerationRequest("p").neutral()
    assert set(plain) == {
        "model", "prompt", "duration", "aspect_ratio", "resolution", "audio", "seed", "camera_fixed", "images"
    }  # fmt: skip
    extras = everything_on(MODELS["doubao-seedance-2-0"]).neutral()
    assert {"videos", "audios", "return_last_frame", "web_search"} <= set(extras)


@specs
def test_to_dict_round_trips(spec: ModelSpec) -> None:
    request = everything_on(spec)
    data = json.loads(json.dumps(request.to_dict()))
    assert GenerationRequest.from_dict(data) == request
    with pytest.raises(ValidationError, match="fields of GenerationRequest"):
        GenerationRequest.from_dict({**data, "colour": "red"})


def test_model_default_is_only_a_marker() -> None:
    assert repr(MODEL_DEFAULT) == "<the model's default>"
    assert GenerationRequest("p", model="seedance-2").audio is True
    with pytest.raises(ValidationError):
        GenerationRequest("p", audio=None)  # type: ignore[arg-type]


def test_estimates_are_none_where_the_spec_has_no_price() -> None:
    assert request_estimate_usd(GenerationRequest("p")) == request_cost_usd(GenerationRequest("p")) == 0.13
    s2_4k = GenerationRequest("p", model="seedance-2", resolution="4k")
    assert request_estimate_usd(s2_4k) is None
    with pytest.raises(NoEstimateError, match="no cost estimate for seedance-2 at 4k"):
        request_cost_usd(s2_4k)
    auto = GenerationRequest("p", model="seedance-2", duration=-1)
    assert request_estimate_usd(auto) is None
    assert request_estimate_usd(GenerationRequest("p", model="seedance-2", duration=10)) == pytest.approx(2.0)


def test_a_task_reply_gives_its_last_frame_and_business_id() -> None:
    task = Task.from_json(
        {
            "id": "task_1",
            "status": "completed",
            "client_business_id": "intent-1",
            "result": {
                "data": [{"url": "https://f.example/v.mp4", "last_frame_url": "https://f.example/l.png"}]
            },
        }
    )
    assert (task.video_url, task.last_frame_url, task.client_business_id) == (
        "https://f.example/v.mp4",
        "https://f.example/l.png",
        "intent-1",
    )
    assert toapis.parse_task({"id": "t", "status": "queued"}).last_frame_url is None


@pytest.mark.parametrize("bad", ["", "has space", "a/b", "-lead", "x" * 129, 5, b"id"])
def test_business_ids_that_cannot_travel_in_a_path_are_refused(bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        toapis.build_body(GenerationRequest("p"), client_business_id=bad)  # type: ignore[arg-type]
    assert info.value.field == "client_business_id"

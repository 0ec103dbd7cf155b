"""Issue 13: one source of truth. For every model of the catalogue, the request's validation, the
magic's parsing (in a real InteractiveShell), the form's traits and the JS form's controls (its
``offeredValues``, run in node on the ``limits`` the form sends) agree: every value the model allows
is accepted everywhere, and the first value outside is refused everywhere.

The same per-model values are written to ``js/__tests__/fixtures/model_limits.json`` for the vitest
that builds the form's DOM from them (js/__tests__/model_agreement.test.js); a test here keeps that
file equal to what the catalogue gives (``SEEDANCE_WRITE_FIXTURES=1`` rewrites it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import traitlets
from IPython.core.error import UsageError
from magic_session import Session

from seedance_widgets.api import GenerationRequest, ValidationError, catalog
from seedance_widgets.api.catalog import ModelSpec
from seedance_widgets.emulator import Emulator
from seedance_widgets.magic.parse import MagicCall, parse_call
from seedance_widgets.widgets.form import SeedanceForm, form_limits

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "js" / "__tests__" / "fixtures" / "model_limits.json"
URL = "https://example.com/media"
#: Every resolution and ratio any model offers, in catalogue order; "8k" / "2:1" when a model has them all.
ALL_RESOLUTIONS = list(dict.fromkeys(r for s in catalog.MODELS.values() for r in s.resolutions))
ALL_RATIOS = list(dict.fromkeys(r for s in catalog.MODELS.values() for r in s.ratios))
SWITCHES = ("audio", "camera_fixed", "return_last_frame", "web_search")
ROLES = ("first_frame", "last_frame", "reference_image", "reference_video", "reference_audio")


def _offers(spec: ModelSpec, switch: str) -> bool:
    return {
        "audio": spec.audio != "none",
        "camera_fixed": spec.supports_camera_fixed,
        "return_last_frame": spec.last_frame,
        "web_search": spec.web_search,
    }[switch]


def slot_counts(spec: ModelSpec) -> dict[str, int]:
    return {
        "first_frame": spec.images.max_first,
        "last_frame": spec.images.max_last,
        "reference_image": spec.images.max_references,
        "reference_video": spec.video_refs.max_count if spec.video_refs else 0,
        "reference_audio": spec.audio_refs.max_count if spec.audio_refs else 0,
    }


def agreement_values(spec: ModelSpec) -> dict[str, Any]:
    """What ``spec`` allows (every value) and the first value outside, per control."""
    d = spec.durations
    return {
        "accept": {
            "durations": [*range(d.min, d.max + 1), *d.auto_values],
            "resolutions": list(spec.resolutions),
            "ratios": list(spec.ratios),
            "switches": {name: _offers(spec, name) for name in SWITCHES},
            "seed_max": spec.seed[1] if spec.seed else None,
            "slots": slot_counts(spec),
        },
        "refuse": {
            "durations": [d.min - 1, d.max + 1],
            "resolution": next((r for r in ALL_RESOLUTIONS if r not in spec.resolutions), "8k"),
            "ratio": next((r for r in ALL_RATIOS if r not in spec.ratios), "2:1"),
            "seed": spec.seed[1] + 1 if spec.seed else 0,
            "slots": {role: count + 1 for role, count in slot_counts(spec).items()},
        },
    }


def fixture() -> dict[str, Any]:
    return {
        "_comment": "Generated from the model catalogue by tests/magic/test_model_agreement.py "
        "(SEEDANCE_WRITE_FIXTURES=1 rewrites it): per model, the limits SeedanceForm sends and the values "
        "it allows and refuses. Read by js/__tests__/model_agreement.test.js and js/__tests__/form.test.js.",
        "models": {
            spec.id: {"limits": form_limits(spec), **agreement_values(spec)}
            for spec in catalog.MODELS.values()
        },
    }


def test_the_js_fixture_is_what_the_catalogue_gives() -> None:
    wanted = json.dumps(fixture(), indent=1, sort_keys=True) + "\n"
    if os.environ.get("SEEDANCE_WRITE_FIXTURES") == "1":
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        FIXTURE.write_text(wanted, encoding="utf-8")
    assert FIXTURE.read_text(encoding="utf-8") == wanted, (
        "js/__tests__/fixtures/model_limits.json is stale: run this test with SEEDANCE_WRITE_FIXTURES=1"
    )


# ---- the four layers ------------------------------------------------------------------------------


def _request(spec: ModelSpec, **fields: Any) -> GenerationRequest:
    return GenerationRequest(prompt="a cat", model=spec.id, **fields)


def _refused_by_request(spec: ModelSpec, field: str, **fields: Any) -> None:
    with pytest.raises(ValidationError) as err:
        _request(spec, **fields)
    text = str(err.value)
    assert err.value.field.startswith(field), (err.value.field, text)
    assert spec.id in text, text  # names the model


def _parse(ip: Session, line: str) -> MagicCall:
    """The magic's own parser and settings, as registered in the live shell."""
    magics = ip.shell.magics_manager.registry["SeedanceMagics"]
    return parse_call(line, None, magics.seedance.parser, magics.settings.defaults(), Path.cwd())


def _refused_by_magic(ip: Session, options: str, spec: ModelSpec) -> None:
    with pytest.raises(UsageError) as err:
        ip.run(f"%seedance --model {spec.id} {options} a cat")
    assert type(err.value) is UsageError
    assert spec.id in str(err.value), str(err.value)


def _image_lists(spec: ModelSpec, role: str, count: int) -> dict[str, Any]:
    """Request fields holding ``count`` entries of ``role`` (audio joined by one reference image
    where the model does not take audio alone)."""
    if role in ("reference_video", "reference_audio"):
        field = "video_with_roles" if role == "reference_video" else "audio_with_roles"
        fields: dict[str, Any] = {field: [{"url": f"{URL}/{i}", "role": role} for i in range(count)]}
        if role == "reference_audio" and not spec.audio_alone:
            fields["image_with_roles"] = [{"url": f"{URL}/img", "role": "reference_image"}]
        return fields
    return {"image_with_roles": [{"url": f"{URL}/{i}", "role": role} for i in range(count)]}


_FIELD = {
    "first_frame": "image_with_roles",
    "last_frame": "image_with_roles",
    "reference_image": "image_with_roles",
    "reference_video": "video_with_roles",
    "reference_audio": "audio_with_roles",
}
_MAGIC_OPTION = {
    "first_frame": "--first",
    "last_frame": "--last",
    "reference_image": "--ref",
    "reference_video": "--ref-video",
    "reference_audio": "--ref-audio",
}


def _magic_slots(spec: ModelSpec, role: str, count: int) -> str:
    option = " ".join(f"{_MAGIC_OPTION[role]} {URL}/{i}.x" for i in range(count))
    if role == "reference_audio" and not spec.audio_alone:
        option += f" --ref {URL}/img.png"
    return option


def _js_offered(limits: dict[str, Any]) -> dict[str, Any]:
    """What js/form/parameters.js offers for these limits (run in node, the code the page runs)."""
    node = shutil.which("node")
    assert node, "node is needed to evaluate the JS form's limits (npm ci installs the JS side)"
    script = (
        "import { offeredValues } from './js/form/parameters.js';"
        f"console.log(JSON.stringify(offeredValues({json.dumps(limits)})));"
    )
    done = subprocess.run(
        [node, "--input-type=module", "-e", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(done.stdout))


@pytest.mark.parametrize("model_id", list(catalog.MODELS))
def test_request_magic_form_and_js_agree_on_every_model(
    ip: Session, emu_env: Emulator, model_id: str
) -> None:
    spec = catalog.MODELS[model_id]
    values = agreement_values(spec)
    accept, refuse = values["accept"], values["refuse"]
    form = SeedanceForm(model=model_id, prompt="a cat")
    js = _js_offered(form.limits)

    # The form sends the catalogue's limits, unchanged; the JS builds its controls from them.
    assert {k: form.limits[k] for k in catalog.limits_json(spec)} == catalog.limits_json(spec)

    # ---- durations: every one allowed, and the first below and above refused, in all four ----
    for seconds in accept["durations"]:
        assert _request(spec, duration=seconds).duration == seconds
        word = "auto" if seconds == spec.durations.auto else str(seconds)
        assert _parse(ip, f"--model {model_id} -d {word} a cat").params["duration"] == seconds
        form.duration = seconds
    assert js["durations"] == [s for s in accept["durations"] if s > 0]
    assert js["auto"] == spec.durations.auto
    for seconds in refuse["durations"]:
        _refused_by_request(spec, "duration", duration=seconds)
        _refused_by_magic(ip, f"-d {seconds}", spec)
        with pytest.raises(traitlets.TraitError, match=model_id):
            form.duration = seconds
        assert seconds not in js["durations"]
    if spec.durations.auto is None:
        _refused_by_magic(ip, "-d auto", spec)
        assert js["auto"] is None

    # ---- resolutions and ratios ---------------------------------------------------------------
    for field, option, allowed, outside, js_key in (
        ("resolution", "--resolution", accept["resolutions"], refuse["resolution"], "resolutions"),
        ("aspect_ratio", "-r", accept["ratios"], refuse["ratio"], "ratios"),
    ):
        for value in allowed:
            assert getattr(_request(spec, **{field: value}), field) == value
            assert _parse(ip, f"--model {model_id} {option} {value} a cat").params[field] == value
            setattr(form, field, value)
        assert js[js_key] == allowed
        _refused_by_request(spec, field, **{field: outside})
        _refused_by_magic(ip, f"{option} {outside}", spec)
        with pytest.raises(traitlets.TraitError, match=model_id):
            setattr(form, field, outside)
        assert outside not in js[js_key]

    # ---- switches: on where offered, refused where not ------------------------------------------
    js_switch = {
        "audio": "audio",
        "camera_fixed": "cameraFixed",
        "return_last_frame": "lastFrame",
        "web_search": "webSearch",
    }
    for name, offered in accept["switches"].items():
        option = "--" + name.replace("_", "-")
        assert js[js_switch[name]] is offered
        if offered:
            assert getattr(_request(spec, **{name: True}), name) is True
            assert _parse(ip, f"--model {model_id} {option} a cat").params[name] is True
            setattr(form, name, True)
            setattr(form, name, False)
        else:
            _refused_by_request(spec, name, **{name: True})
            _refused_by_magic(ip, option, spec)
            with pytest.raises(traitlets.TraitError, match=model_id):
                setattr(form, name, True)

    # ---- seeds ------------------------------------------------------------------------------------
    top = accept["seed_max"]
    assert js["seedMax"] == top
    assert _request(spec, seed=top).seed == top
    assert _parse(ip, f"--model {model_id} --seed {top} a cat").params["seed"] == top
    form.seed = top
    _refused_by_request(spec, "seed", seed=refuse["seed"])
    with pytest.raises(UsageError):
        ip.run(f"%seedance --model {model_id} --seed {refuse['seed']} a cat")
    with pytest.raises(traitlets.TraitError, match=model_id):
        form.seed = refuse["seed"]

    # ---- image and reference slots: as many as allowed, one more refused --------------------------
    assert js["slots"] == accept["slots"]
    form.resolution = spec.default_resolution  # some models take references below 1080p only
    for role in ROLES:
        count, over = accept["slots"][role], refuse["slots"][role]
        if count:
            _request(spec, **_image_lists(spec, role, count))
            call = _parse(ip, f"--model {model_id} {_magic_slots(spec, role, count)} a cat")
            assert call.command == "generate"
            form.clear_images()
            if role == "reference_audio" and not spec.audio_alone:
                form.add_image("reference_image", f"{URL}/img.png")
            for i in range(count):
                form.add_image(role, f"{URL}/{i}.x")
            assert sum(1 for img in form.images if img["role"] == role) == count
        _refused_by_request(spec, _FIELD[role], **_image_lists(spec, role, over))
        if role not in ("first_frame", "last_frame") or count == 0:  # the magic takes one --first / --last
            _refused_by_magic(ip, _magic_slots(spec, role, over), spec)
        if role not in ("first_frame", "last_frame"):  # a second first/last frame replaces the first
            with pytest.raises(ValidationError, match=model_id):
                form.add_image(role, f"{URL}/one-more.x")
        elif count == 0:
            with pytest.raises(ValidationError, match=model_id):
                form.add_image(role, f"{URL}/frame.png")
    form.clear_images()

    # ---- and a whole call through the shell: the dry run's body names the model -----------------------
    dry = ip.run(f"%seedance --model {model_id} --dry-run a cat")
    assert model_id in json.dumps(dry.body)
    stats = emu_env.stats()
    assert (stats["create"], stats["upload"]) == (0, 0)
    form.close()

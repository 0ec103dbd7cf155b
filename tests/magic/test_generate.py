"""Every generation option, end to end: magic -> engine -> emulator over loopback -> Job."""

from __future__ import annotations

from pathlib import Path

import pytest
from magic_session import Session

from seedance_widgets.emulator import Emulator
from seedance_widgets.engine import DryRun, Job, JobState
from seedance_widgets.magic.display import SweepList


def test_line_magic_returns_the_job_and_the_video_arrives(ip: Session, emu_env: Emulator) -> None:
    assert ip.run("job = %seedance --resolution 480p -d 4 a red fox runs through fresh snow") is None
    job = ip.shell.user_ns["job"]
    assert isinstance(job, Job)
    assert (
        ip.run("%seedance --resolution 480p -d 4 a red fox runs through fresh snow") is job
    )  # in flight/cached
    path = job.wait(timeout=60)
    assert path.is_file()
    assert path.read_bytes()[4:8] == b"ftyp"
    req = job.request
    assert req is not None
    assert (req.prompt, req.resolution, req.duration) == ("a red fox runs through fresh snow", "480p", 4)
    assert emu_env.stats()["create"] == 1


def test_every_parameter_option_reaches_the_request(ip: Session) -> None:
    job = ip.run(
        "%seedance -d 6 -r 9:16 --resolution 480p --audio --seed 42 --camera-fixed --dry-run a drummer"
    )
    assert isinstance(job, DryRun)
    assert job.body == {
        "model": "doubao-seedance-1-5-pro",
        "prompt": "a drummer",
        "duration": 6,
        "aspect_ratio": "9:16",
        "metadata": {"resolution": "480p", "audio": True, "seed": 42, "camerafixed": True},
    }
    long_form = ip.run("%seedance --duration=6 --ratio 9:16 --resolution=480P --seed=42 --dry-run a drummer")
    assert long_form.body["duration"] == 6
    assert long_form.body["metadata"]["resolution"] == "480p"


def test_options_may_come_after_the_prompt_and_quotes_stay_in_it(ip: Session) -> None:
    dry = ip.run("""%seedance a dog's life, a sign saying "OPEN" -d 4 --dry-run""")
    assert dry.body["prompt"] == """a dog's life, a sign saying "OPEN\""""
    assert dry.body["duration"] == 4
    quoted = ip.run('%seedance --dry-run "jobs of the future"')
    assert quoted.body["prompt"] == "jobs of the future"
    dashed = ip.run("%seedance --dry-run -- --the dash belongs to the prompt")
    assert dashed.body["prompt"] == "--the dash belongs to the prompt"


def test_dry_run_prints_body_and_estimate_and_sends_nothing(ip: Session, emu_env: Emulator) -> None:
    ip.run("%seedance --dry-run -d 10 --audio a train crosses a bridge")
    out = ip.capsys.readouterr().out
    assert "Dry run: nothing was sent" in out
    assert '"prompt": "a train crosses a bridge"' in out
    assert f"POST {emu_env.base_url}/v1/videos/generations" in out
    assert "~$0.52" in out
    assert "ESTIMATE" in out
    assert emu_env.stats()["create"] == 0


def test_cell_magic_body_is_the_prompt(ip: Session) -> None:
    dry = ip.run(
        "%%seedance --dry-run -d 12 --ratio 21:9\nA slow aerial shot over a misty forest,\n  birds cross.\n"
    )
    assert dry.body["prompt"] == "A slow aerial shot over a misty forest,\n  birds cross."
    assert (dry.body["duration"], dry.body["aspect_ratio"]) == (12, "21:9")


def test_local_and_url_images_with_roles(ip: Session, emu_env: Emulator, png: Path) -> None:
    # The emulator's own upload gives a URL it can serve back; use it as the "remote" image.
    url = ip.run(f"%seedance --dry-run --first {png.name} x y").body["image_with_roles"][0]["url"]
    assert url.startswith("sha256:")  # a local file is only uploaded when the job really runs
    job = ip.run(
        f"%seedance --resolution 480p -d 4 --first {png} --last {png.name} --ref {png} a flower opens"
    )
    job.wait(timeout=60)
    # What the gateway received (the emulator's own record of the create body).
    received = emu_env._state.tasks[job.task_id].request
    roles = [(r.role, r.url.startswith("http")) for r in received.roles]
    assert roles == [("first_frame", True), ("last_frame", True), ("reference_image", True)]
    assert emu_env.stats()["upload"] >= 1
    remote = received.roles[0].url
    again = ip.run(f"%seedance --dry-run --first {remote} --ref {png} --ref {png} a flower")
    assert [r["role"] for r in again.body["image_with_roles"]] == [
        "first_frame",
        "reference_image",
        "reference_image",
    ]
    assert again.body["image_with_roles"][0]["url"] == remote


def test_same_request_again_is_served_from_cache_and_rerun_pays(ip: Session, emu_env: Emulator) -> None:
    line = "%seedance --resolution 480p -d 4 --seed 7 a koi pond"
    first = ip.run(line)
    first.wait(timeout=60)
    second = ip.run(line)
    assert second.snapshot().from_cache
    assert second.status == JobState.DONE
    assert emu_env.stats()["create"] == 1
    third = ip.run(line + " --rerun")
    third.wait(timeout=60)
    assert emu_env.stats()["create"] == 2
    assert third is not first


def test_wait_blocks_until_done_then_shows_the_result(ip: Session) -> None:
    job = ip.run("%seedance --wait --resolution 480p -d 4 a paper boat on a river")
    assert job.status == JobState.DONE
    out = ip.capsys.readouterr().out
    assert "done" in out
    assert job.local_id in out


def test_wait_on_a_failing_job_returns_it_with_the_error(ip: Session) -> None:
    job = ip.run("%seedance --wait --resolution 480p -d 4 failme on purpose")
    assert job.status == JobState.FAILED
    assert job.snapshot().error


def test_out_stores_the_job_and_embed_reaches_the_view(ip: Session) -> None:
    job = ip.run("%seedance --out clip --embed --resolution 480p -d 4 a candle flickers")
    assert ip.shell.user_ns["clip"] is job
    magics = ip.shell.magics_manager.registry["SeedanceMagics"]
    assert magics.displays.view_for(job).embed is True


def test_seeds_sweep_makes_one_job_per_seed(ip: Session, emu_env: Emulator) -> None:
    runs = ip.run("%seedance --seeds 1,2,3 --resolution 480p -d 4 --out sweep a koi pond at dawn")
    assert isinstance(runs, SweepList)
    assert isinstance(runs, list)
    assert [j.request.seed for j in runs] == [1, 2, 3]
    assert ip.shell.user_ns["sweep"] is runs
    for job in runs:
        job.wait(timeout=60)
    assert emu_env.stats()["create"] == 3
    assert len(set(ip.widget_ids())) == 3


def test_dry_run_sweep_lists_every_body(ip: Session, emu_env: Emulator) -> None:
    dries = ip.run("%seedance --dry-run --seeds 5,6 a lighthouse")
    assert [d.body["metadata"]["seed"] for d in dries] == [5, 6]
    assert "Sweep of 2" in ip.capsys.readouterr().out
    assert emu_env.stats()["create"] == 0


@pytest.mark.parametrize(
    ("setting", "value", "check"),
    [
        ("duration", "8", lambda b: b["duration"] == 8),
        ("ratio", "'1:1'", lambda b: b["aspect_ratio"] == "1:1"),
        ("resolution", "'480p'", lambda b: b["metadata"]["resolution"] == "480p"),
        ("audio", "True", lambda b: b["metadata"]["audio"] is True),
        ("camera_fixed", "True", lambda b: b["metadata"].get("camerafixed") is True),
        ("seed", "99", lambda b: b["metadata"]["seed"] == 99),
    ],
)
def test_config_defaults_apply_and_options_win(ip: Session, setting: str, value: str, check: object) -> None:
    ip.run(f"%config Seedance.{setting} = {value}")
    body = ip.run("%seedance --dry-run a cat").body
    assert check(body)  # type: ignore[operator]
    overridden = ip.run(
        "%seedance --dry-run -d 4 -r 16:9 --resolution 720p --no-audio --no-camera-fixed --seed 1 a cat"
    )
    assert overridden.body["duration"] == 4
    assert overridden.body["metadata"]["seed"] == 1
    assert overridden.body["metadata"]["audio"] is False
    assert "camerafixed" not in overridden.body["metadata"]

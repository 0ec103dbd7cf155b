"""Every user mistake is a plain UsageError naming what is allowed, raised before any paid call."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.error import UsageError
from magic_session import Session

from seedance_widgets.emulator import Emulator
from seedance_widgets.magic import link

CASES = [
    ("%seedance -r 5:4 a cat", "16:9, 9:16, 1:1, 4:3, 3:4, 21:9"),
    ("%seedance -d 13 a cat", "from 4 to 12"),
    ("%seedance --duration 3 a cat", "from 4 to 12"),
    ("%seedance -d five a cat", "from 4 to 12"),
    ("%seedance --resolution 1080p a cat", "tops out at 720p"),
    ("%seedance --resolution 360p a cat", "480p or 720p"),
    ("%seedance jbos", "Did you mean 'jobs'"),
    ("%seedance sunset", 'quote it: %seedance "sunset"'),
    ("%seedance", "empty prompt"),
    ("%seedance -d 5", "empty prompt"),
    ("%seedance ''", "empty prompt"),
    ("%%seedance -d 5\n   \n", "the cell is empty"),
    ("%%seedance a cat on the line\nthe body", "the line takes options only"),
    ("%seedance --first missing.png a cat", "no such file"),
    ("%seedance --last ftp://example.com/x.png a cat", "http(s) URL or a local file path"),
    ("%seedance --seed 1 --seeds 1,2 a cat", "either --seed"),
    ("%seedance --seeds a,b a cat", "a seed is a whole number"),
    ("%seedance --seeds 1,1 a cat", "each seed may appear once"),
    ("%seedance --seed -2 a cat", "-1 (random) to 4294967295"),
    ("%seedance --seed 4294967296 a cat", "-1 (random) to 4294967295"),
    ("%seedance --durration 5 a cat", "Did you mean --duration"),
    ("%seedance a cat -d", "--duration needs a value"),
    ("%seedance --audio=yes a cat", "takes no value"),
    ("%seedance --out 1abc a cat", "Python variable name"),
    ("%seedance --out class a cat", "Python variable name"),
    ("%seedance attach", "usage: %seedance attach TASK_ID"),
    ("%seedance jobs of the world", "quote the prompt"),
    ("%seedance jobs -d 5", "takes no options"),
    ("%seedance cancel nosuchjob", "no job with id or task id 'nosuchjob'"),
    ("%seedance " + "x " * 1001, "at most 2000 are allowed"),
]


@pytest.mark.parametrize(("code", "expected"), CASES)
def test_mistake_is_a_plain_usage_error(ip: Session, emu_env: Emulator, code: str, expected: str) -> None:
    with pytest.raises(UsageError) as caught:
        ip.run(code)
    assert type(caught.value) is UsageError  # not a subclass: IPython then shows no traceback
    assert expected in str(caught.value)
    stats = emu_env.stats()
    assert (stats["create"], stats["upload"]) == (0, 0)


def test_image_mistakes(ip: Session, emu_env: Emulator, png: Path, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(UsageError, match="not a JPEG, PNG, WebP or GIF"):
        ip.run(f"%seedance --ref {text} a cat")
    with pytest.raises(UsageError, match="at most 4"):
        ip.run("%seedance " + f"--ref {png} " * 5 + "a cat")
    big = tmp_path / "big.png"
    big.write_bytes(png.read_bytes() + b"\0" * (10 * 1024 * 1024))
    with pytest.raises(UsageError, match="at most 10 MB"):
        ip.run(f"%seedance --first {big} a cat")
    assert emu_env.stats()["upload"] == 0


def test_budget_refusal_is_a_usage_error_before_the_call(ip: Session, emu_env: Emulator) -> None:
    ip.run("%config Seedance.budget_usd = 0.05")
    with pytest.raises(UsageError, match="budget"):
        ip.run("%seedance -d 5 --resolution 720p a cat")  # ~$0.13 > $0.05
    assert emu_env.stats()["create"] == 0


def test_bad_config_values_are_refused_naming_the_allowed_ones(
    ip: Session, caplog: pytest.LogCaptureFixture
) -> None:
    magics = ip.shell.magics_manager.registry["SeedanceMagics"]
    for setting, bad, allowed in [
        ("duration", "13", "from 4 to 12"),
        ("resolution", "'1080p'", "480p"),
        ("ratio", "'5:4'", "16:9"),
        ("poll_policy", "'often'", "adaptive"),
        ("budget_usd", "-1", "positive"),
    ]:
        before = getattr(magics.settings, setting)
        caplog.clear()
        ip.run(f"%config Seedance.{setting} = {bad}")  # %config logs the error, it does not raise
        assert getattr(magics.settings, setting) == before
        assert allowed in caplog.text


def test_a_sweep_over_the_budget_is_refused_whole_before_anything_is_sent(
    ip: Session, emu_env: Emulator
) -> None:
    ip.run("%config Seedance.budget_usd = 0.15")  # room for three 480p 4 s clips ($0.048 each)
    refused = r"sweep of 4 jobs is estimated at \$0\.19.*budget.*Nothing was sent"
    with pytest.raises(UsageError, match=refused):
        ip.run("%seedance --seeds 1,2,3,4 --resolution 480p -d 4 a koi")
    assert ip.widget_ids() == []
    assert (emu_env.stats()["create"], emu_env.stats()["upload"]) == (0, 0)
    magics = ip.shell.magics_manager.registry["SeedanceMagics"]
    manager = link.manager_for(magics.settings)
    assert manager.jobs() == []
    assert manager.spent_usd == 0

    for job in ip.run("%seedance --seeds 1,2 --resolution 480p -d 4 a koi"):
        job.wait(timeout=60)
    # Seeds 1 and 2 are saved: only seed 3 is counted, and it fits ($0.096 + $0.048 <= $0.15).
    sweep = ip.run("%seedance --seeds 1,2,3 --resolution 480p -d 4 a koi")
    assert [job.snapshot().from_cache for job in sweep] == [True, True, False]
    sweep[2].wait(timeout=60)
    assert emu_env.stats()["create"] == 3
    with pytest.raises(UsageError, match=r"sweep of 2 jobs is estimated at \$0\.10"):
        ip.run("%seedance --rerun --seeds 1,2 --resolution 480p -d 4 a koi")  # rerun pays again
    with pytest.raises(UsageError, match=r"3 already saved, free\) is estimated at \$0\.05"):
        ip.run("%seedance --seeds 1,2,3,4 --resolution 480p -d 4 a koi")
    assert emu_env.stats()["create"] == 3

"""The line splitter and the call parser on their own (no shell, no network)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from IPython.core.error import UsageError

from seedance_widgets.magic import Seedance, SeedanceMagics
from seedance_widgets.magic.parse import MagicCall, parse_call, split_line

PARSER = SeedanceMagics.seedance.parser  # type: ignore[attr-defined]
DEFAULTS = Seedance().defaults()


def parse(line: str, cell: str | None = None) -> MagicCall:
    return parse_call(line, cell, PARSER, DEFAULTS, Path.cwd())


def test_split_keeps_quoted_groups_and_lone_apostrophes() -> None:
    tokens = split_line("""a dog's "big day" --ref="my file.png" 'x y'z""")
    assert [t.value for t in tokens] == ["a", "dog's", "big day", "--ref=my file.png", "x yz"]
    assert [t.quoted for t in tokens] == [False, False, True, False, False]
    assert tokens[2].raw == '"big day"'


def test_defaults_come_from_the_settings_and_options_override() -> None:
    call = parse("a cat")
    assert call.params == {
        "model": "doubao-seedance-1-5-pro",
        "return_last_frame": False,
        "web_search": False,
        "duration": 5,
        "aspect_ratio": "16:9",
        "resolution": "720p",
        "audio": False,
        "camera_fixed": False,
        "seed": None,
    }
    assert not call.embed
    assert parse("--embed a cat").embed
    assert parse("-d 9 --audio a cat").params["duration"] == 9
    settings = Seedance(duration=7, embed=True)
    from_settings = parse_call("a cat", None, PARSER, settings.defaults(), Path.cwd())
    assert from_settings.params["duration"] == 7
    assert from_settings.embed
    assert not parse_call("--no-embed a cat", None, PARSER, settings.defaults(), Path.cwd()).embed


def test_subcommands_and_their_arguments() -> None:
    assert parse("jobs").command == "jobs"
    assert (parse("attach task_vid_1").command, parse("attach task_vid_1").argument) == (
        "attach",
        "task_vid_1",
    )
    assert parse("cancel job-1").argument == "job-1"
    assert parse('"jobs"').prompt == "jobs"  # quoted: a prompt, not a sub-command
    with pytest.raises(UsageError, match="Did you mean 'config'"):
        parse("confg")


def test_seeds_and_images() -> None:
    call = parse("--seeds 3, 1 ,2 --first https://example.com/a.png a cat")
    assert call.seeds == (3, 1, 2)  # spaces around the commas are part of the list
    assert call.prompt == "a cat"
    assert call.first_frame == "https://example.com/a.png"
    assert parse("--seeds=4,5 a cat").seeds == (4, 5)


WORD = st.text(alphabet=st.characters(categories=("L", "N"), include_characters=".,!?°:;()"), min_size=1)


@given(st.lists(WORD, min_size=2, max_size=12), st.sampled_from(["", " -d 6", " --dry-run"]))
def test_a_plain_prompt_survives_parsing_word_for_word(words: list[str], options: str) -> None:
    call = parse(" ".join(words) + options)
    assert call.prompt == " ".join(words)


def test_settings_left_at_none_take_each_models_own_defaults() -> None:
    two = parse("--model doubao-seedance-2-0 a cat").params
    assert (two["aspect_ratio"], two["audio"], two["duration"]) == ("adaptive", True, 5)
    assert parse("--model seedance-2 -d auto a cat").params["duration"] == -1
    settings = Seedance(model="seedance-2", resolution="1080p")
    call = parse_call("a cat", None, PARSER, settings.defaults(), Path.cwd())
    assert (call.params["model"], call.params["resolution"]) == ("seedance-2", "1080p")
    # A setting the line's model refuses says where it came from.
    with pytest.raises(UsageError, match=r"tops out at 720p.*%config Seedance.resolution"):
        parse_call("--model doubao-seedance-1-5-pro a cat", None, PARSER, settings.defaults(), Path.cwd())


def test_reference_media_urls_and_flags() -> None:
    call = parse(
        "--model doubao-seedance-2-0 --ref-video https://e.com/a.mp4 --ref-audio https://e.com/a.mp3 "
        "--return-last-frame --web-search a robot dances"
    )
    assert call.ref_videos == ("https://e.com/a.mp4",)
    assert call.ref_audios == ("https://e.com/a.mp3",)
    assert call.params["return_last_frame"]
    assert call.params["web_search"]
    assert call.prompt == "a robot dances"

"""Turn a ``%seedance`` line (and ``%%seedance`` cell) into a validated :class:`MagicCall`.

Why not ``magic_arguments.parse_argstring``: it splits with shlex, which chokes on a
prompt like ``a dog's life`` and drops the quotes a prompt may need (``a sign saying
"OPEN"``). Here the line is split by hand, options go to the argparse parser built by
``@magic_arguments`` (so ``%seedance?`` and parsing share one definition), and the
prompt keeps its words exactly as typed.

Everything a user can get wrong is checked here, before any paid call, and reported
as a plain :class:`~IPython.core.error.UsageError` naming what is allowed.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import keyword
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from IPython.core.error import UsageError

from seedance_widgets.api import (
    ASPECT_RATIOS,
    MAX_SEED,
    MAX_UPLOAD_BYTES,
    GenerationRequest,
    ValidationError,
    sniff_image_type,
)

#: Sub-commands and how many arguments each takes (``export`` has its own options: ``_export_call``).
SUBCOMMANDS: dict[str, int] = {"jobs": 0, "attach": 1, "cancel": 1, "config": 0, "form": 0, "export": 1}
EXPORT_USAGE = "%seedance export NOTEBOOK.ipynb [--embed] [--out PAGE.html]"
MAX_REFERENCES = 4
#: Options whose value is a comma-separated list (spaces after the commas are allowed).
COMMA_LISTS = frozenset({"--seeds"})
MAX_SWEEP = 50
_OPTION = re.compile(r"^--?[A-Za-z]")
_ONE_WORD = re.compile(r"^[A-Za-z][A-Za-z_-]*$")


@dataclasses.dataclass(frozen=True)
class Token:
    """One whitespace-separated piece of the line: ``raw`` as typed, ``value`` without quotes."""

    raw: str
    value: str
    quoted: bool


def split_line(line: str) -> list[Token]:
    """Split on whitespace; a quoted stretch (``"a b"``, ``--ref='a b.png'``) stays one token.

    A quote without a partner (``dog's``) is an ordinary character, never an error.
    """
    tokens: list[Token] = []
    i, n = 0, len(line)
    while i < n:
        if line[i].isspace():
            i += 1
            continue
        start, parts, quoted = i, [], False
        while i < n and not line[i].isspace():
            char = line[i]
            close = line.find(char, i + 1) if char in "\"'" else -1
            # A quote opens a group only at the start of a token or right after "=" (--ref="a b").
            if close > 0 and (i == start or line[i - 1] == "="):
                parts.append(line[i + 1 : close])
                quoted = quoted or i == start
                i = close + 1
            else:
                parts.append(char)
                i += 1
        tokens.append(Token(line[start:i], "".join(parts), quoted and line[i - 1] in "\"'"))
    return tokens


@dataclasses.dataclass(frozen=True)
class Image:
    """An image option: ``source`` is an http(s) URL or a local path (uploaded by the engine)."""

    role: str
    source: str | Path


@dataclasses.dataclass(frozen=True)
class MagicCall:
    """What one ``%seedance`` call asks for, fully checked."""

    command: str  # "generate" or a sub-command
    argument: str | None = None  # the TASK_ID / ID of attach and cancel
    prompt: str = ""
    #: GenerationRequest fields (prompt excluded), config defaults already applied.
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    first_frame: str | Path | None = None
    last_frame: str | Path | None = None
    references: tuple[str | Path, ...] = ()
    seeds: tuple[int, ...] = ()
    wait: bool = False
    rerun: bool = False
    dry_run: bool = False
    embed: bool = False
    out: str | None = None
    #: ``export --out PATH``: where the page goes (None: beside the notebook).
    path: str | None = None

    @property
    def is_sweep(self) -> bool:
        return bool(self.seeds)


def _value_options(parser: argparse.ArgumentParser) -> dict[str, tuple[str, bool]]:
    """Every option string -> (its canonical long form, whether it takes a value)."""
    table: dict[str, tuple[str, bool]] = {}
    for action in parser._actions:  # argparse has no public listing of its actions
        if not action.option_strings:
            continue
        long_forms = [s for s in action.option_strings if s.startswith("--")]
        for name in action.option_strings:
            canonical = name if name.startswith("--") else (long_forms[0] if long_forms else name)
            table[name] = (canonical, action.nargs != 0)
    return table


def split_options(
    line: str, parser: argparse.ArgumentParser
) -> tuple[argparse.Namespace, list[Token], list[str]]:
    """Separate the options (parsed by ``parser``) from the other words of ``line``.

    Returns the parsed options, the remaining tokens, and the option names that were given
    (so "given" can be told apart from "defaulted").
    """
    table = _value_options(parser)
    argv: list[str] = []
    given: list[str] = []
    words: list[Token] = []
    tokens = split_line(line)
    options_over = False
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if not options_over and not token.quoted and token.value == "--":
            options_over = True
            continue
        if options_over or token.quoted or not _OPTION.match(token.value):
            words.append(token)
            continue
        name, has_eq, inline = token.value.partition("=")
        if name not in table:
            close = difflib.get_close_matches(name, list(table), n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            longs = sorted({c for c, _ in table.values()})
            raise UsageError(
                f"unknown option {name}.{hint} Options: {', '.join(longs)}. "
                "To start the prompt with a dash, put -- before it."
            )
        canonical, takes_value = table[name]
        given.append(canonical)
        if not takes_value:
            if has_eq:
                raise UsageError(f"{canonical} is a switch and takes no value")
            argv.append(canonical)
            continue
        if not has_eq:
            if i >= len(tokens):
                raise UsageError(f"{canonical} needs a value")
            inline = tokens[i].value
            i += 1
        if canonical in COMMA_LISTS:
            # "--seeds 1, 2, 3": gather the spaced-out list instead of taking "2, 3" as prompt words.
            while i < len(tokens) and (inline.endswith(",") or tokens[i].value.startswith(",")):
                inline += tokens[i].value
                i += 1
        argv.append(f"{canonical}={inline}")
    return parser.parse_args(argv), words, given


def _prompt_text(words: Sequence[Token]) -> str:
    if len(words) == 1 and words[0].quoted:
        return words[0].value
    return " ".join(t.raw for t in words)


# ---- argparse value types: each names the allowed values in its error -------------------------


def duration_type(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 4 <= value <= 12:
        raise argparse.ArgumentTypeError(f"{text!r}: the duration is a whole number of seconds from 4 to 12")
    return value


def ratio_type(text: str) -> str:
    if text not in ASPECT_RATIOS:
        raise argparse.ArgumentTypeError(f"{text!r}: the aspect ratio is one of {', '.join(ASPECT_RATIOS)}")
    return text


def resolution_type(text: str) -> str:
    value = text.lower()
    if value not in ("480p", "720p"):
        extra = " (Seedance 1.5 Pro tops out at 720p)" if value in ("1080p", "1080", "2k", "4k") else ""
        raise argparse.ArgumentTypeError(f"{text!r}: the resolution is 480p or 720p{extra}")
    return value


def seed_type(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -2
    if not -1 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{text!r}: a seed is a whole number from -1 (random) to {MAX_SEED}")
    return value


def seeds_type(text: str) -> tuple[int, ...]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("--seeds takes a comma-separated list of seeds, e.g. --seeds 1,2,3")
    seeds = tuple(seed_type(p) for p in parts)
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"{text!r}: each seed may appear once")
    if len(seeds) > MAX_SWEEP:
        raise argparse.ArgumentTypeError(f"a sweep has at most {MAX_SWEEP} seeds (got {len(seeds)})")
    return seeds


def name_type(text: str) -> str:
    if not text.isidentifier() or keyword.iskeyword(text):
        raise argparse.ArgumentTypeError(f"{text!r}: --out takes a Python variable name, e.g. --out clip")
    return text


def image_source(text: str, option: str, cwd: Path) -> str | Path:
    """A URL stays a URL; anything else must be a readable image file (checked now, uploaded later)."""
    parsed = urlparse(text)
    if parsed.scheme in ("http", "https") and parsed.netloc:
        return text
    if parsed.scheme and len(parsed.scheme) > 1 and parsed.scheme != "file":
        raise UsageError(f"{option} {text}: an image is an http(s) URL or a local file path")
    raw = text[len("file://") :] if text.startswith("file://") else text
    path = Path(raw).expanduser()
    path = path if path.is_absolute() else cwd / path
    if not path.is_file():
        raise UsageError(f"{option} {text}: no such file ({path}); give an http(s) URL or a local image path")
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise UsageError(
            f"{option} {text}: the image is {size / 1e6:.1f} MB; the gateway takes at most 10 MB"
        )
    with path.open("rb") as handle:
        kind = sniff_image_type(handle.read(16))
    if kind is None:
        raise UsageError(f"{option} {text}: not a JPEG, PNG, WebP or GIF image")
    return path


# ---- the whole call ---------------------------------------------------------------------------


def parse_call(
    line: str,
    cell: str | None,
    parser: argparse.ArgumentParser,
    defaults: dict[str, Any],
    cwd: Path,
) -> MagicCall:
    """Parse and check one magic call. ``defaults`` are the ``Seedance`` config values."""
    head = split_line(line)[:1]
    if cell is None and head and not head[0].quoted and head[0].value == "export":
        return _export_call(line.lstrip()[len(head[0].raw) :])
    args, words, given = split_options(line, parser)
    if cell is not None:
        if words:
            raise UsageError(
                "in %%seedance the cell body is the prompt; the line takes options only "
                f"(found {_prompt_text(words)!r} on the line)"
            )
        prompt = cell.strip()
        if not prompt:
            raise UsageError(
                "the cell is empty: write the prompt in the cell body, e.g.\n%%seedance -d 8\na fox ..."
            )
    else:
        first = words[0] if words else None
        if first is not None and not first.quoted and first.value in SUBCOMMANDS:
            return _subcommand(first.value, words[1:], given)
        if len(words) == 1 and not words[0].quoted and _ONE_WORD.match(words[0].value):
            close = difflib.get_close_matches(words[0].value, list(SUBCOMMANDS), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UsageError(
                f"unknown sub-command {words[0].value!r}.{hint} Sub-commands: {', '.join(SUBCOMMANDS)}. "
                f'For a one-word prompt, quote it: %seedance "{words[0].value}"'
            )
        prompt = _prompt_text(words).strip()
        if not prompt:
            raise UsageError(
                "empty prompt: write what the video should show, e.g. %seedance a red fox runs through snow "
                "(see %seedance? for options)"
            )
    if args.seed is not None and args.seeds is not None:
        raise UsageError("give either --seed (one job) or --seeds (a sweep, one job per seed), not both")

    def pick(name: str) -> Any:
        value = getattr(args, name)
        return defaults[name] if value is None else value

    params: dict[str, Any] = {
        "duration": pick("duration"),
        "aspect_ratio": pick("ratio"),
        "resolution": pick("resolution"),
        "audio": pick("audio"),
        "camera_fixed": pick("camera_fixed"),
        "seed": pick("seed"),
    }
    try:  # the protocol layer's own checks (prompt length, 1080p, ...) before anything is sent
        GenerationRequest(prompt=prompt, **params)
    except ValidationError as err:
        raise UsageError(str(err)) from None
    refs = args.ref or []
    if len(refs) > MAX_REFERENCES:
        raise UsageError(
            f"--ref was given {len(refs)} times; Seedance 1.5 Pro takes at most {MAX_REFERENCES}"
        )
    return MagicCall(
        command="generate",
        prompt=prompt,
        params=params,
        first_frame=image_source(args.first, "--first", cwd) if args.first else None,
        last_frame=image_source(args.last, "--last", cwd) if args.last else None,
        references=tuple(image_source(r, "--ref", cwd) for r in refs),
        seeds=args.seeds or (),
        wait=args.wait,
        rerun=args.rerun,
        dry_run=args.dry_run,
        embed=pick("embed"),
        out=args.out,
    )


def _subcommand(name: str, rest: Sequence[Token], given: Sequence[str]) -> MagicCall:
    if given:
        raise UsageError(f"%seedance {name} takes no options (got {', '.join(given)})")
    wanted = SUBCOMMANDS[name]
    if len(rest) != wanted:
        usage = {"attach": "%seedance attach TASK_ID", "cancel": "%seedance cancel ID"}.get(
            name, f"%seedance {name}"
        )
        raise UsageError(
            f"usage: {usage}. For a prompt that starts with {name!r}, quote the prompt: "
            f'%seedance "{name} ..."'
        )
    return MagicCall(command=name, argument=rest[0].value if rest else None)


def _export_call(rest: str) -> MagicCall:
    """``%seedance export NOTEBOOK [--embed | --no-embed] [--out PATH]`` (its own options: the
    generate options mean nothing here, and ``--out`` is a path, not a variable name)."""
    notebook: str | None = None
    embed = False
    out: str | None = None
    tokens = split_line(rest)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        value = token.value
        if not token.quoted and value in ("--embed", "--no-embed"):
            embed = value == "--embed"
        elif not token.quoted and (value == "--out" or value.startswith("--out=")):
            if value == "--out":
                if i >= len(tokens):
                    raise UsageError(f"--out needs a path; usage: {EXPORT_USAGE}")
                value, i = "--out=" + tokens[i].value, i + 1
            out = value.removeprefix("--out=")
        elif not token.quoted and _OPTION.match(value):
            raise UsageError(
                f"%seedance export takes --embed and --out PATH only (got {value}); usage: {EXPORT_USAGE}"
            )
        elif notebook is not None:
            raise UsageError(
                f"%seedance export takes one notebook (got {notebook!r} and {value!r}); usage: {EXPORT_USAGE}"
            )
        else:
            notebook = value
    return MagicCall(command="export", argument=notebook, embed=embed, path=out)

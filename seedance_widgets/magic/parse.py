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
    MAX_UPLOAD_BYTES,
    GenerationRequest,
    ImageRole,
    ValidationError,
    catalog,
    sniff_image_type,
)
from seedance_widgets.api.catalog import MediaRefs
from seedance_widgets.api.media import MediaFile, check_total_seconds, read_audio, read_video
from seedance_widgets.api.models import MediaRole

#: Sub-commands and how many arguments each takes (``export`` has its own options: ``_export_call``).
SUBCOMMANDS: dict[str, int] = {
    "jobs": 0,
    "models": 0,
    "attach": 1,
    "cancel": 1,
    "config": 0,
    "form": 0,
    "export": 1,
    "tasks": 0,
}
EXPORT_USAGE = "%seedance export NOTEBOOK.ipynb [--embed] [--out PAGE.html]"
TASKS_USAGE = "%seedance tasks [--status S] [--model M] [--limit N]"
#: ``%seedance tasks --status``: Ark's status words (a few of ours are taken as their synonyms).
TASK_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "expired")
_STATUS_SYNONYMS = {
    "in_progress": "running",
    "completed": "succeeded",
    "done": "succeeded",
    "canceled": "cancelled",
}
#: ``%seedance tasks --limit``: Ark lists at most this many tasks on one page.
MAX_TASKS_LIMIT = 100
DEFAULT_TASKS_LIMIT = 20
#: The service tier ``--flex`` asks for (Ark only: offline, about half price, slower).
FLEX_TIER = "flex"
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
    #: GenerationRequest fields (prompt excluded; ``PARAM_FIELDS``), settings and the model's own
    #: defaults already applied.
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    first_frame: str | Path | None = None
    last_frame: str | Path | None = None
    references: tuple[str | Path, ...] = ()
    #: ``--ref-video`` / ``--ref-audio``: http(s) URLs, or local files already checked.
    ref_videos: tuple[str | Path, ...] = ()
    ref_audios: tuple[str | Path, ...] = ()
    seeds: tuple[int, ...] = ()
    wait: bool = False
    rerun: bool = False
    dry_run: bool = False
    embed: bool = False
    out: str | None = None
    #: ``export --out PATH``: where the page goes (None: beside the notebook).
    path: str | None = None
    #: ``--flex``: Ark's offline tier (the request's ``service_tier``; refused on ToAPIs).
    flex: bool = False
    #: ``tasks --status / --model / --limit``: the filters of the account's task list.
    status: str | None = None
    task_model: str | None = None
    limit: int = DEFAULT_TASKS_LIMIT

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


# ---- argparse value types: syntax only; what a model allows is checked in parse_call ---------

#: The word ``-d auto`` takes: the model picks the clip's length (where its spec allows that).
AUTO = "auto"
#: The broadest seed range of any catalogue model (each model's own range is checked later).
_SEED_LO = min(spec.seed[0] for spec in catalog.MODELS.values() if spec.seed)
_SEED_HI = max(spec.seed[1] for spec in catalog.MODELS.values() if spec.seed)


def model_type(text: str) -> str:
    """A catalogue model id; anything else names the known ids (and the closest one)."""
    value = text.strip()
    if value.lower() in catalog.MODELS:
        return value.lower()
    try:
        catalog.spec_for(value)
    except ValidationError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return value  # pragma: no cover - spec_for accepts only catalogue ids


def duration_type(text: str) -> int | str:
    """A whole number of seconds, ``auto``, or the text as typed (refused with the model's range)."""
    value = text.strip().lower()
    if value == AUTO:
        return AUTO
    try:
        return int(value)
    except ValueError:
        return text  # the request refuses it, naming the model's range


def ratio_type(text: str) -> str:
    return text.strip()


def resolution_type(text: str) -> str:
    return text.strip().lower()


def seed_type(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = _SEED_LO - 1
    if not _SEED_LO <= value <= _SEED_HI:
        raise argparse.ArgumentTypeError(
            f"{text!r}: a seed is a whole number from {_SEED_LO} (random) to {_SEED_HI}"
        )
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


def _is_url(text: str) -> bool:
    parsed = urlparse(text)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def _local_path(text: str, option: str, cwd: Path, kind: str) -> Path:
    """The local file ``text`` names (``file://`` allowed); a missing file or another scheme is refused."""
    parsed = urlparse(text)
    if parsed.scheme and len(parsed.scheme) > 1 and parsed.scheme != "file":
        raise UsageError(f"{option} {text}: {kind} is an http(s) URL or a local file path")
    raw = text[len("file://") :] if text.startswith("file://") else text
    path = Path(raw).expanduser()
    path = path if path.is_absolute() else cwd / path
    if not path.is_file():
        raise UsageError(
            f"{option} {text}: no such file ({path}); give an http(s) URL or a local {kind} path"
        )
    return path


def image_source(text: str, option: str, cwd: Path) -> str | Path:
    """A URL stays a URL; anything else must be a readable image file (checked now, uploaded later)."""
    if _is_url(text):
        return text
    path = _local_path(text, option, cwd, "an image")
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


def media_sources(
    texts: Sequence[str], option: str, cwd: Path, refs: MediaRefs | None
) -> tuple[str | Path, ...]:
    """Reference videos (``--ref-video``) or audio (``--ref-audio``): URLs as given; local files
    checked now against the model's limits (type from the content, size, length where the header
    gives it, and the clips' total length), before anything is sent. The engine uploads them."""
    reader = read_audio if option == "--ref-audio" else read_video
    kind = "an audio clip" if option == "--ref-audio" else "a video"
    sources: list[str | Path] = []
    files: list[MediaFile] = []
    for text in texts:
        if _is_url(text):
            sources.append(text)
            continue
        path = _local_path(text, option, cwd, kind)
        try:
            files.append(reader(path, refs=refs))
        except ValidationError as err:
            raise UsageError(f"{option} {text}: {err}") from None
        sources.append(path)
    if refs is not None and files:
        try:
            check_total_seconds(files, refs)
        except ValidationError as err:
            raise UsageError(f"{option}: {err}") from None
    return tuple(sources)


# ---- the whole call ---------------------------------------------------------------------------

#: Parser option -> (request field, Seedance setting) for the request defaults.
_FIELDS: dict[str, tuple[str, str]] = {
    "duration": ("duration", "duration"),
    "ratio": ("aspect_ratio", "ratio"),
    "resolution": ("resolution", "resolution"),
    "audio": ("audio", "audio"),
    "camera_fixed": ("camera_fixed", "camera_fixed"),
    "seed": ("seed", "seed"),
}
#: The request fields a MagicCall's ``params`` holds (every one filled in, model defaults included).
PARAM_FIELDS = (
    "model",
    "duration",
    "aspect_ratio",
    "resolution",
    "audio",
    "camera_fixed",
    "seed",
    "return_last_frame",
    "web_search",
)
_PLACEHOLDER = "https://local-file.invalid/"


def _options_of(spec: catalog.ModelSpec, args: argparse.Namespace) -> None:
    """Refuse image and reference options the model does not take, naming the option and who does."""
    images = spec.images
    counts = [
        ("--first", 1 if args.first else 0, images.max_first, "first frame", "max_first"),
        ("--last", 1 if args.last else 0, images.max_last, "last frame", "max_last"),
        ("--ref", len(args.ref or []), images.max_references, "reference images", "max_references"),
    ]
    for option, count, limit, what, attr in counts:
        if count <= limit:
            continue
        others = [m.id for m in catalog.MODELS.values() if getattr(m.images, attr) >= count]
        _refuse_count(option, count, limit, what, spec, others=others)
    for option, given, refs, what in (
        ("--ref-video", args.ref_video or [], spec.video_refs, "reference videos"),
        ("--ref-audio", args.ref_audio or [], spec.audio_refs, "reference audio clips"),
    ):
        limit = refs.max_count if refs else 0
        if len(given) > limit:
            if option == "--ref-video":
                able = catalog.models_allowing(reference_videos=len(given))
            else:
                able = catalog.models_allowing(reference_audios=len(given))
            _refuse_count(option, len(given), limit, what, spec, others=able)


def _refuse_count(
    option: str, count: int, limit: int, what: str, spec: catalog.ModelSpec, *, others: Sequence[str]
) -> None:
    times = f"was given {count} times" if count > 1 else "was given once"
    takes = f"takes at most {limit} {what}" if limit else f"takes no {what}"
    others = [o for o in others if o != spec.id]
    who = f"; models that take {count}: {', '.join(others)}" if others else ""
    raise UsageError(f"{option} {times}; {spec.id} ({spec.label}) {takes}{who} (see %seedance models)")


def _params(
    args: argparse.Namespace, defaults: dict[str, Any], spec: catalog.ModelSpec
) -> tuple[dict[str, Any], dict[str, str]]:
    """The request fields the line and the settings give, and which of them came from a setting."""
    params: dict[str, Any] = {"model": spec.id}
    from_config: dict[str, str] = {}
    for option, (field, setting) in _FIELDS.items():
        value = getattr(args, option)
        if value is None:
            value = defaults.get(setting)
            if value is None:
                continue  # the model's own default
            from_config[field] = setting
        params[field] = value
    if params.get("duration") == AUTO:
        auto = spec.durations.auto
        if auto is None:
            d = spec.durations
            others = ", ".join(m.id for m in catalog.MODELS.values() if m.durations.auto is not None)
            raise UsageError(
                f"duration 'auto' is not allowed for {spec.id}: {spec.label} takes a whole number of "
                f"seconds from {d.min} to {d.max}; auto: {others}"
            )
        params["duration"] = auto
    params["return_last_frame"] = bool(args.return_last_frame)
    params["web_search"] = bool(args.web_search)
    return params, from_config


def _checked(
    prompt: str, params: dict[str, Any], args: argparse.Namespace, from_config: dict[str, str]
) -> GenerationRequest:
    """The request the call describes, checked by the protocol layer itself (local files stand in
    as placeholder URLs): every value, count and combination the model refuses, before anything
    is sent. A refused value that came from ``%config`` says so."""

    def urls(role: str, items: Sequence[str] | None) -> list[str]:
        return [f"{_PLACEHOLDER}{role}/{i}" for i, _ in enumerate(items or [])]

    images = [
        ImageRole(url, role)
        for role, given in (
            ("first_frame", [args.first] if args.first else []),
            ("last_frame", [args.last] if args.last else []),
            ("reference_image", args.ref),
        )
        for url in urls(role, given)
    ]
    try:
        return GenerationRequest(
            prompt=prompt,
            **params,
            image_with_roles=tuple(images),
            video_with_roles=tuple(
                MediaRole(u, "reference_video") for u in urls("reference_video", args.ref_video)
            ),
            audio_with_roles=tuple(
                MediaRole(u, "reference_audio") for u in urls("reference_audio", args.ref_audio)
            ),
        )
    except ValidationError as err:
        setting = from_config.get(err.field)
        origin = f" (the default from %config Seedance.{setting})" if setting else ""
        raise UsageError(f"{err}{origin}") from None


def parse_call(
    line: str,
    cell: str | None,
    parser: argparse.ArgumentParser,
    defaults: dict[str, Any],
    cwd: Path,
) -> MagicCall:
    """Parse and check one magic call. ``defaults`` are the ``Seedance`` config values."""
    head = split_line(line)[:1]
    if cell is None and head and not head[0].quoted and head[0].value in ("export", "tasks"):
        rest = line.lstrip()[len(head[0].raw) :]
        return _export_call(rest) if head[0].value == "export" else _tasks_call(rest)
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
    spec = catalog.spec_for(args.model or defaults.get("model") or catalog.DEFAULT_MODEL)
    params, from_config = _params(args, defaults, spec)
    _options_of(spec, args)
    if args.flex:
        params["service_tier"] = FLEX_TIER  # only when asked: a request without it is unchanged
    request = _checked(prompt, params, args, from_config)
    for seed in args.seeds or ():
        _checked(prompt, {**params, "seed": seed}, args, {})
    embed = args.embed if args.embed is not None else defaults.get("embed", False)
    return MagicCall(
        command="generate",
        prompt=prompt,
        params={field: getattr(request, field) for field in PARAM_FIELDS}
        | ({"service_tier": FLEX_TIER} if args.flex else {}),
        first_frame=image_source(args.first, "--first", cwd) if args.first else None,
        last_frame=image_source(args.last, "--last", cwd) if args.last else None,
        references=tuple(image_source(r, "--ref", cwd) for r in args.ref or []),
        ref_videos=media_sources(args.ref_video or [], "--ref-video", cwd, spec.video_refs),
        ref_audios=media_sources(args.ref_audio or [], "--ref-audio", cwd, spec.audio_refs),
        seeds=args.seeds or (),
        wait=args.wait,
        rerun=args.rerun,
        dry_run=args.dry_run,
        embed=bool(embed),
        out=args.out,
        flex=bool(args.flex),
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


def _tasks_call(rest: str) -> MagicCall:
    """``%seedance tasks [--status S] [--model M] [--limit N]``: the account's recent tasks (Ark)."""
    values: dict[str, str] = {}
    tokens = split_line(rest)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        name, has_eq, value = token.value.partition("=")
        if token.quoted or name not in ("--status", "--model", "--limit"):
            raise UsageError(
                f"%seedance tasks takes --status, --model and --limit only (got {token.value!r}); "
                f"usage: {TASKS_USAGE}"
            )
        if not has_eq:
            if i >= len(tokens):
                raise UsageError(f"{name} needs a value; usage: {TASKS_USAGE}")
            value, i = tokens[i].value, i + 1
        values[name] = value.strip()
    return MagicCall(
        command="tasks",
        status=_task_status(values["--status"]) if "--status" in values else None,
        task_model=values.get("--model") or None,
        limit=_task_limit(values["--limit"]) if "--limit" in values else DEFAULT_TASKS_LIMIT,
    )


def _task_status(text: str) -> str:
    word = text.lower()
    word = _STATUS_SYNONYMS.get(word, word)
    if word not in TASK_STATUSES:
        raise UsageError(f"--status {text!r}: one of {', '.join(TASK_STATUSES)}")
    return word


def _task_limit(text: str) -> int:
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_TASKS_LIMIT:
        raise UsageError(f"--limit {text!r}: a whole number from 1 to {MAX_TASKS_LIMIT}")
    return limit

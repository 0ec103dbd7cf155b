"""``%seedance`` / ``%%seedance``: parse the line, hand the work to the engine, show a JobView.

Thin on purpose: checking is in :mod:`.parse`, the choice of manager in :mod:`.link`,
display rules in :mod:`.display`; the job engine and the widgets do the real work.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from seedance_widgets.api import GenerationRequest, ValidationError, catalog

from . import link
from .config import Seedance
from .display import CellDisplays, SweepList, say
from .parse import (
    EXPORT_USAGE,
    FLEX_TIER,
    MagicCall,
    duration_type,
    model_type,
    name_type,
    parse_call,
    ratio_type,
    resolution_type,
    seed_type,
    seeds_type,
)
from .tables import JobTable, ModelTable, SettingsTable, TaskTable, estimate_text

if TYPE_CHECKING:
    from seedance_widgets.engine import DryRun, Job, JobManager

_BOOL = argparse.BooleanOptionalAction


# ---- option help, written from the catalogue (so it never disagrees with what is checked) --------


def _models_with(test: Callable[[catalog.ModelSpec], object]) -> str:
    ids = [spec.id for spec in catalog.MODELS.values() if test(spec)]
    return "models: " + ", ".join(ids) if ids else "no model offers it"


def _grouped(describe: Callable[[catalog.ModelSpec], str]) -> str:
    """ "4-12 s: a, b; 4-15 s or auto: c" — each distinct value with the models that have it."""
    groups: dict[str, list[str]] = {}
    for spec in catalog.MODELS.values():
        groups.setdefault(describe(spec), []).append(spec.id)
    return "; ".join(f"{value} ({', '.join(ids)})" for value, ids in groups.items())


def _seconds(spec: catalog.ModelSpec) -> str:
    d = spec.durations
    return f"{d.min}-{d.max}" + (" or auto" if d.auto is not None else "")


def _seed_text(spec: catalog.ModelSpec) -> str:
    return f"{spec.seed[0]} (random) to {spec.seed[1]}" if spec.seed else "none"


def _media_kwargs(media: list[tuple[str, Any]]) -> dict[str, Any]:
    """``media=`` for ``submit`` only when there is some (a call without it works on any engine)."""
    return {"media": media} if media else {}


_DURATIONS_HELP = _grouped(_seconds)
_RATIOS_HELP = _grouped(lambda s: ", ".join(s.ratios))
_RESOLUTIONS_HELP = _grouped(lambda s: ", ".join(s.resolutions))
_SEED_HELP = _grouped(_seed_text)
_REFS_HELP = {
    "images": _grouped(lambda s: f"up to {s.images.max_references}"),
    "videos": _grouped(lambda s: f"up to {s.video_refs.max_count}" if s.video_refs else "none"),
    "audio": _grouped(lambda s: f"up to {s.audio_refs.max_count}" if s.audio_refs else "none"),
}


@magics_class
class SeedanceMagics(Magics):
    """The ``%seedance`` magics; settings live in the ``Seedance`` configurable (``self.settings``)."""

    def __init__(self, shell: Any, settings: Seedance | None = None) -> None:
        super().__init__(shell)
        self.settings = settings if settings is not None else Seedance(parent=shell)
        self.displays = CellDisplays(lambda: self.settings.live_card_delay)
        self._notice_shown = False

    # The docstring below is what `%seedance?` shows; magic_arguments appends the option list.
    @magic_arguments()
    @argument(
        "words",
        nargs="*",
        metavar="PROMPT | SUB-COMMAND",
        help="The prompt (line magic), or one of: jobs, tasks, models, attach TASK_ID, cancel ID, "
        "config, form, export NOTEBOOK.",
    )
    @argument(
        "-m",
        "--model",
        type=model_type,
        metavar="ID",
        help=f"The model: {', '.join(catalog.MODELS)} (default: %%config Seedance.model, "
        f"{catalog.DEFAULT_MODEL}). %%seedance models lists what each allows and its price.",
    )
    @argument(
        "-d",
        "--duration",
        type=duration_type,
        metavar="SECONDS",
        help=f"Clip length in whole seconds, or auto where the model picks the length: {_DURATIONS_HELP}.",
    )
    @argument("-r", "--ratio", type=ratio_type, metavar="W:H", help=f"Aspect ratio: {_RATIOS_HELP}.")
    @argument("--resolution", type=resolution_type, metavar="RES", help=f"Resolution: {_RESOLUTIONS_HELP}.")
    @argument(
        "--audio",
        action=_BOOL,
        default=None,
        help="Generate a synchronised audio track (default: the model's; 1.5 Pro costs 2x with it).",
    )
    @argument("--seed", type=seed_type, metavar="N", help=f"Seed: {_SEED_HELP}.")
    @argument(
        "--seeds", type=seeds_type, metavar="N,N,...", help="A sweep: one job per seed; returns a list."
    )
    @argument(
        "--camera-fixed",
        action=_BOOL,
        default=None,
        help=f"Keep the camera still ({_models_with(lambda s: s.supports_camera_fixed)}).",
    )
    @argument("--first", metavar="IMG", help="First frame: an http(s) URL or a local image (uploaded).")
    @argument("--last", metavar="IMG", help="Last frame: an http(s) URL or a local image (uploaded).")
    @argument(
        "--ref",
        action="append",
        metavar="IMG",
        help=f"A reference image; repeat it ({_REFS_HELP['images']}).",
    )
    @argument(
        "--ref-video",
        action="append",
        metavar="PATH|URL",
        help="A reference video (local files are checked, then uploaded); repeat it "
        f"({_REFS_HELP['videos']}).",
    )
    @argument(
        "--ref-audio",
        action="append",
        metavar="PATH|URL",
        help=f"A reference audio clip (WAV/MP3); repeat it ({_REFS_HELP['audio']}).",
    )
    @argument(
        "--return-last-frame",
        action="store_true",
        help="Also save the clip's last frame beside the video (for 'continue from here'; "
        f"{_models_with(lambda s: s.last_frame)}).",
    )
    @argument(
        "--web-search",
        action="store_true",
        help=f"Let the model search the web ({_models_with(lambda s: s.web_search)}).",
    )
    @argument(
        "--flex",
        action="store_true",
        help="Ark's offline tier (service_tier=flex): about half price, may wait hours for a slot; "
        "Ark only (refused on ToAPIs before anything is sent).",
    )
    @argument("--wait", action="store_true", help="Block with a progress display until the video is ready.")
    @argument("--rerun", action="store_true", help="Make a new (paid) task even if this exact video exists.")
    @argument(
        "--dry-run",
        action="store_true",
        help="Print the exact request body and a cost estimate; send nothing.",
    )
    @argument("--embed", action=_BOOL, default=None, help="Keep the video bytes in the notebook file.")
    @argument(
        "--out", type=name_type, metavar="NAME", help="Also store the Job (or sweep list) in variable NAME."
    )
    @line_cell_magic
    def seedance(self, line: str, cell: str | None = None) -> Any:
        """Generate a video with a Seedance model; the kernel stays free while it renders.

        Line magic: the prompt is the rest of the line. Cell magic: the cell body is the
        prompt (any number of lines) and the line holds the options. Returns the Job at
        once and shows its live view (progress, then the video)::

            %seedance a red fox runs through fresh snow, low sun
            job = %seedance -d 8 -r 9:16 --resolution 480p --audio a drummer on a rooftop
            %seedance --seed 42 --camera-fixed a lighthouse in a storm
            %seedance --first start.png --last https://example.com/end.jpg a flower opens
            %seedance --ref cat.png --ref hat.png the cat puts on the hat
            %seedance --dry-run -d 10 --audio a train crosses a bridge   # body + cost, nothing sent
            %seedance --wait a paper boat on a river      # blocks until the video is shown
            runs = %seedance --seeds 1,2,3 a koi pond at dawn             # a sweep: list of 3 jobs
            %seedance --out clip --embed a candle flickers                # clip = the Job; bytes kept
            %seedance --model seedance-2 --resolution 1080p -d 15 a glacier calving at dawn
            %seedance --model doubao-seedance-2-0 --ref-video dance.mp4 the robot dances like this
            %seedance --model seedance-2 -d auto --return-last-frame a kite over the dunes
            %seedance --flex a night train through snow   # Ark only: offline tier, half price

            %%seedance -d 12 --ratio 21:9
            A slow aerial shot over a misty pine forest at sunrise,
            the camera gliding forward, birds crossing the frame.

        An identical request that already finished shows its saved video with no API call;
        ``--rerun`` pays for a new one. Local images and videos are checked here (type from the
        content, size, length) and uploaded by the engine. What each model allows (lengths,
        ``auto``, resolutions, ratios, references, last frame, web search) comes from the model
        catalogue: a value the model refuses is an error naming the models that allow it. To
        start a prompt with a sub-command's word or a dash, quote it or put ``--`` before it.

        Sub-commands::

            %seedance jobs              this kernel's and the output folder's jobs, estimate and bill
            %seedance tasks [--status S] [--model M] [--limit N]
                                        the account's recent tasks (Ark only), to attach one
            %seedance models            every model: lengths, resolutions, ratios, references, price
            %seedance attach TASK_ID    watch an existing task (e.g. one that timed out, or cgt-...)
            %seedance cancel ID         cancel a job (local id or task id): on Ark a queued task is
                                        cancelled and not billed; a running one cannot be (say it
                                        again to stop watching); ToAPIs has no cancel: stop watching
            %seedance config            the settings in effect: provider, region (never the API key)
            %seedance form              the interactive form
            %seedance export NB.ipynb [--embed] [--out PAGE.html]
                                        the saved notebook as an HTML page that plays its videos
                                        offline: videos copied beside it, or inside it with --embed

        Defaults: ``%config Seedance`` lists them; set one with e.g.
        ``%config Seedance.model = 'seedance-2'``,
        ``%config Seedance.duration = 8``, ``%config Seedance.resolution = '480p'``,
        ``%config Seedance.output_dir = 'videos'``, ``%config Seedance.budget_usd = 2.0``,
        ``%config Seedance.poll_policy = 'baseline'``, ``%config Seedance.embed = True``.

        Key: set the environment variable TOAPIS_API_KEY (the ToAPIs gateway) or ARK_API_KEY
        (Volcengine / BytePlus Ark; ARK_BASE_URL, %config Seedance.region); with both, pick with
        %config Seedance.provider. Keys are never shown or saved. Without one the built-in offline
        emulator is used: synthetic clips, nothing billed. Costs shown before a job ends are
        ESTIMATES from a published list price; on Ark the bill (tokens) is shown beside them.
        """
        call = parse_call(line, cell, self.seedance.parser, self.settings.defaults(), Path.cwd())
        return getattr(self, f"_do_{call.command}")(call)

    # ---- generate -------------------------------------------------------------------------------
    def _manager(self) -> JobManager:
        manager = link.manager_for(self.settings)
        self._maybe_notice()
        return manager

    def _maybe_notice(self) -> None:
        from seedance_widgets.backend import backend_notice, take_backend_notice

        notice = backend_notice()
        if notice and not self._notice_shown and not link.key_is_set():
            self._notice_shown = True
            take_backend_notice()  # so a JobView or gallery shown later does not repeat it
            say(notice)

    @staticmethod
    def _requests(call: MagicCall) -> list[GenerationRequest]:
        """One request per job of the call: one per seed of a sweep, else just one."""
        seeds: list[int | None] = list(call.seeds) or [None]
        requests = []
        for seed in seeds:
            params = dict(call.params)
            if seed is not None:
                params["seed"] = seed
            requests.append(GenerationRequest(prompt=call.prompt, **params))
        return requests

    @staticmethod
    def _images(call: MagicCall) -> list[tuple[str, Any]]:
        images: list[tuple[str, Any]] = []
        if call.first_frame is not None:
            images.append(("first_frame", call.first_frame))
        if call.last_frame is not None:
            images.append(("last_frame", call.last_frame))
        images += [("reference_image", ref) for ref in call.references]
        return images

    @staticmethod
    def _media(call: MagicCall) -> list[tuple[str, Any]]:
        """``--ref-video`` / ``--ref-audio`` as ``submit(media=...)`` takes them (URLs or checked files)."""
        return [("reference_video", v) for v in call.ref_videos] + [
            ("reference_audio", a) for a in call.ref_audios
        ]

    @staticmethod
    def _check_sweep_budget(
        manager: JobManager, call: MagicCall, requests: list[GenerationRequest], images: list[tuple[str, Any]]
    ) -> None:
        """Refuse a whole sweep before anything is sent when its estimate would pass the budget.

        Seeds whose video is saved already (``manager.is_cached``) are free unless ``--rerun``;
        one still in flight is counted (erring towards refusing, never overspending).
        """
        from seedance_widgets.engine import BudgetExceededError

        if call.dry_run:
            return
        try:
            manager.check_budget(requests, images, rerun=call.rerun, name="sweep")  # the engine's one check
        except BudgetExceededError as err:
            raise UsageError(f"{err} (see %config Seedance.budget_usd)") from None

    def _submit(
        self, manager: JobManager, call: MagicCall, request: GenerationRequest, images: list[tuple[str, Any]]
    ) -> Job | DryRun:
        from seedance_widgets.engine import BudgetExceededError

        try:
            result = manager.submit(
                request,
                images=images,
                rerun=call.rerun,
                dry_run=call.dry_run,
                **_media_kwargs(self._media(call)),
            )
        except BudgetExceededError as err:
            raise UsageError(f"{err} (see %config Seedance.budget_usd)") from None
        except ValidationError as err:
            # Refused by the provider's rules before anything was sent (e.g. a model Ark lacks in
            # the region): one line, like every other refusal of the magic.
            raise UsageError(f"{err}. Nothing was sent.") from None
        # The engine starts the built-in emulator only when a request needs HTTP: say so then.
        self._maybe_notice()
        return result

    def _do_generate(self, call: MagicCall) -> Any:
        from seedance_widgets.engine import Job

        manager = self._manager()
        if call.flex:
            self._check_flex(manager)
        requests = self._requests(call)
        images = self._images(call)
        if call.is_sweep:
            self._check_sweep_budget(manager, call, requests, images)
        results: list[Any] = []
        for request in requests:
            try:
                result = self._submit(manager, call, request, images)
            except UsageError as err:
                if not results:
                    raise
                # Only when spending elsewhere (another cell's thread, a form) raced the check above.
                started = ", ".join(getattr(r, "local_id", "?") for r in results)
                raise UsageError(f"{err}; the sweep stopped after {len(results)} ({started})") from None
            if isinstance(result, Job):
                self.displays.show_job(result, embed=call.embed, manager=manager)
            else:
                base_url = manager.client.base_url  # may start the built-in emulator: say so first
                self._maybe_notice()
                self.displays.show_dry_run(result, base_url)
            results.append(result)
        if call.dry_run and call.is_sweep:
            estimates = [d.estimate_usd for d in results]
            total = None if any(e is None for e in estimates) else sum(estimates)
            say(f"Sweep of {len(results)}: {estimate_text(total, 'in all ')}. Nothing was sent.")
        value: Any = SweepList(results) if call.is_sweep else results[0]
        self.displays.mark_shown(value)
        if call.out and self.shell is not None:
            self.shell.user_ns[call.out] = value
        jobs = [r for r in results if isinstance(r, Job)]
        if call.wait and jobs:
            self._wait(jobs)
        return value

    @staticmethod
    def _check_flex(manager: JobManager) -> None:
        """``--flex`` is Ark's tier: refuse it on ToAPIs here, before anything is sent."""
        provider = getattr(manager.client, "provider", "toapis")
        if provider != "ark":
            raise UsageError(
                f"--flex (service_tier={FLEX_TIER}) is Ark's offline tier, but jobs go to ToAPIs, which has "
                "no flex tier. Nothing was sent. Drop --flex, or use Ark: set ARK_API_KEY (with both keys "
                "set: %config Seedance.provider = 'ark')."
            )

    def _wait(self, jobs: list[Job]) -> None:
        """Block until every job is final; the JobViews show the progress (text in a terminal)."""
        from seedance_widgets.engine import JobError, WaitTimeoutError

        in_kernel = getattr(self.shell, "kernel", None) is not None
        try:
            for job in jobs:
                while True:
                    try:
                        job.wait(timeout=1.0)
                        break
                    except WaitTimeoutError:
                        if not in_kernel:  # no live widget here: a text line instead
                            say(f"{job.local_id}: {job.snapshot().status_line()}")
                    except JobError:
                        break  # failure is shown, in red, by the job's view; the Job is returned
        except KeyboardInterrupt:
            say("Stopped waiting; the jobs carry on in the background (see %seedance jobs).")
            return
        if not in_kernel:
            for job in jobs:
                say(repr(job))

    # ---- sub-commands ---------------------------------------------------------------------------
    def _do_jobs(self, call: MagicCall) -> JobTable:
        current = self._manager()
        managers = [current] + [m for m in link.known_managers() if m is not current]
        entries = []
        for manager in managers:
            since = link.opened_at(manager)
            for job in manager.jobs():
                snap = job.snapshot()
                entries.append((snap, (snap.submitted_at or 0) >= since))
        entries.sort(key=lambda e: e[0].submitted_at or 0)
        return JobTable.build(entries)

    def _do_attach(self, call: MagicCall) -> Job:
        assert call.argument is not None
        manager = self._manager()
        job = manager.attach(call.argument)
        self._maybe_notice()
        self.displays.show_job(job, embed=self.settings.embed, manager=manager)
        return job

    def _do_cancel(self, call: MagicCall) -> None:
        """Cancel a job and say which outcome happened: cancelled (not billed), running (cannot be
        cancelled, still watched), or stopped watching."""
        from seedance_widgets.widgets._display import cancel_text

        assert call.argument is not None
        self._manager()
        job = link.find_job(call.argument)
        if job is None:
            raise UsageError(f"no job with id or task id {call.argument!r}; %seedance jobs lists them")
        snap = job.snapshot()
        if snap.is_final:
            done = f" ({cancel_text(snap)})" if cancel_text(snap) else ""
            say(f"Job {snap.local_id} is already {snap.state}{done}: nothing to cancel.")
            return
        after = link.cancel_and_wait(job)
        if after.cancel_outcome == "cancelling" and not after.is_final:
            # Ark has not answered yet: the engine keeps asking; the kernel is not held for it.
            say(
                f"Job {snap.local_id}: the cancel is on its way to Ark (no answer within "
                f"{link.CANCEL_WAIT_SECONDS:g}s). Its card, %seedance jobs and "
                "job.snapshot().cancel_outcome show the outcome when Ark answers."
            )
            return
        say(f"Job {snap.local_id}: {cancel_text(after) or after.error or after.status_line()}")

    def _do_tasks(self, call: MagicCall) -> TaskTable:
        """The account's recent tasks (Ark lists them; the ToAPIs gateway cannot)."""
        manager = self._manager()
        client = manager.client
        if not getattr(client, "can_list", False):
            raise UsageError(
                "the ToAPIs gateway has no task list: it cannot show an account's tasks. "
                "%seedance jobs lists this kernel's and the output folder's jobs; %seedance attach TASK_ID "
                "watches a task whose id you have. Ark lists tasks: set ARK_API_KEY to use it."
            )
        self._maybe_notice()
        tasks = link.remote_tasks(manager, status=call.status, model=call.task_model, limit=call.limit)

        def attach(which: int | str) -> Job:
            job: Job = tasks.attach(which)  # with the task's creation time, from the list
            self.displays.show_job(job, embed=self.settings.embed, manager=manager)
            return job

        return TaskTable.build(tasks, attach=attach)

    def _do_config(self, call: MagicCall) -> SettingsTable:
        from seedance_widgets.engine.store import resolve_output_dir

        rows = []
        for name, trait in sorted(self.settings.traits(config=True).items()):
            rows.append(
                {
                    "setting": f"Seedance.{name}",
                    "value": repr(getattr(self.settings, name)),
                    "help": trait.help,
                }
            )
        where = link.where_jobs_go(self.settings)
        rows += [
            {
                "setting": "provider",
                "value": where.provider_label,
                "help": "ToAPIs or Ark: the key that is set decides; with both, %config Seedance.provider "
                "or $SEEDANCE_PROVIDER.",
            },
            {
                "setting": "region",
                "value": where.region or "(ToAPIs has no region)",
                "help": "Ark's region: %config Seedance.region, $ARK_REGION or the ARK_BASE_URL.",
            },
            {
                "setting": "API key",
                "value": where.key_text,
                "help": f"Set the {where.key_variable} environment variable.",
            },
            {"setting": "backend", "value": where.url, "help": "Where requests go."},
            {
                "setting": "output folder",
                "value": str(resolve_output_dir(self.settings.output_dir)),
                "help": "Videos, uploads and ledger.jsonl.",
            },
        ]
        return SettingsTable(("setting", "value", "help"), rows)

    def _do_form(self, call: MagicCall) -> None:
        from IPython.display import display

        from seedance_widgets.widgets import SeedanceForm

        settings = self.settings
        params: dict[str, Any] = {"model": settings.model, "camera_fixed": settings.camera_fixed}
        # Settings left at None take the model's own default in the form too.
        for name, value in (
            ("duration", settings.duration),
            ("aspect_ratio", settings.ratio),
            ("resolution", settings.resolution),
            ("audio", settings.audio),
            ("seed", settings.seed),
        ):
            if value is not None:
                params[name] = value
        display(SeedanceForm(manager=self._manager(), **params))

    def _do_models(self, call: MagicCall) -> ModelTable:
        return ModelTable.build()

    def _do_export(self, call: MagicCall) -> None:
        from seedance_widgets.export import export_html

        notebook = call.argument or self._this_notebook()
        if notebook is None:
            raise UsageError(f"which notebook? usage: {EXPORT_USAGE}")
        try:
            page = export_html(notebook, call.path, embed=call.embed)
        except (FileNotFoundError, ValueError) as err:
            raise UsageError(str(err)) from None
        size = page.stat().st_size / 1e6
        where = (
            "videos and last frames inside it"
            if call.embed
            else f"videos and last frames in {page.stem}_files/ beside it"
        )
        say(
            f"Wrote {page} ({size:.1f} MB, {where}) from the notebook as last saved; "
            "save first to include the newest outputs."
        )

    def _this_notebook(self) -> str | None:
        """The notebook this kernel was started for (Jupyter server sets ``__session__``)."""
        session = self.shell.user_ns.get("__session__") if self.shell is not None else None
        return session if isinstance(session, str) and session.endswith(".ipynb") else None

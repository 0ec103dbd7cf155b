"""The create path: the intent on disk, the inputs uploaded, then the one paid call.

Money safety: a create is only sent after its intent (and a ``submitting`` record) is in the
ledger; it is re-sent only when the gateway's reply proves no task was made (429, a 503 with
Retry-After, or a connection that never opened), and never after CREATE_RETRY_DEADLINE. Each
create carries the job's ``client_business_id`` (in the intent before it is sent): when its reply
is lost or unusable, the task is looked up by that id (lookup.py) and attached to when it exists;
the gateway's 404 after a grace ends the job "not created"; when it cannot tell, the job is
``may_exist`` and waits for the user. Never a second create. Whatever goes wrong ends in a safe
state the user sees, and a task id, once known, is kept.
"""

from __future__ import annotations

import logging

from seedance_widgets.api import (
    APIError,
    GenerationRequest,
    RateLimitError,
    SeedanceError,
    ServerError,
    Task,
    TaskMayExistError,
    TransportError,
    ValidationError,
)

from . import cancelling, limits, lookup
from .core import CANCEL_MESSAGE, Engine
from .errors import OutputFolderError
from .images import with_inputs
from .pacing import CREATE as PACED_CREATE
from .providers import body_for_ledger, finds_by_business_id, provider_of
from .scheduler import CREATE
from .state import POLLED_STATES, JobState
from .tracked import LEDGER_WRITE_FAILED, NOT_SENT, Tracked, business_id_for
from .transfers import upload_images

log = logging.getLogger("seedance_widgets.engine")

#: How long a create may go on being refused (429/503) or unable to connect (gateway seconds)
#: before its job fails. Each of those retries was proven to make no task, so giving up is free.
CREATE_RETRY_DEADLINE = 10 * 60.0


def record_intent(core: Engine, tracked: Tracked) -> None:
    """Write the job's intent (durably): no paid call is ever made without it. When it cannot be
    written the job ends as not sent, and OutputFolderError says why."""
    snap = tracked.job.snapshot()
    assert snap.request is not None
    client = core.client_for(tracked)
    if not finds_by_business_id(client):
        # Ark has no such id: a lost reply is resolved by the user from the task list instead.
        tracked.business_id = None
    elif tracked.business_id is None:
        tracked.business_id = business_id_for(snap.local_id)
    try:
        core.record(
            "intent",
            job=snap.local_id,
            request_hash=snap.request_hash,
            request=snap.request.to_dict(),
            protocol=provider_of(client),
            client_business_id=tracked.business_id,
            images=tracked.image_records(),
            state=JobState.INTENT,
            cost_estimate=snap.cost_estimate,
        )
    except OSError as err:
        # No intent on disk, so no create: the job ends here (never left waiting in intent).
        message = f"not sent, nothing billed: its intent could not be written to the ledger ({err})"
        core.fail_before_task(tracked, message, LEDGER_WRITE_FAILED)
        raise OutputFolderError(
            f"{message}. Free some space or make {core.store.root} writable, then try again."
        ) from err


def start(core: Engine, tracked: Tracked) -> None:
    """Queue the job's create (its intent is on disk) for the pool, once the provider's queue
    has room for it (limits.py)."""
    limits.enter(core, tracked, lambda: core.run_in_pool(lambda: create(core, tracked), CREATE))


def create(core: Engine, tracked: Tracked) -> None:
    """Upload the job's images and send its create, once (runs in the pool)."""
    job = tracked.job
    if job.snapshot().is_final or core.stopping:
        return
    try:
        _upload_and_create(core, tracked)
    except Exception as err:
        log.exception("the create of job %s failed unexpectedly", job.local_id)
        _end_after_surprise(core, tracked, err)


def _upload_and_create(core: Engine, tracked: Tracked) -> None:
    try:
        inputs = upload_images(core, tracked)
    except (SeedanceError, OSError) as err:
        message = f"upload failed, so the create was not sent (nothing billed): {err}"
        core.fail_before_task(tracked, message, "upload_failed")
        return
    if inputs is None:
        return
    request = tracked.job.request
    assert request is not None
    request = with_inputs(request, inputs)
    task = _send_create(core, tracked, request)
    if task is not None:
        _created(core, tracked, task)


def _send_create(core: Engine, tracked: Tracked, request: GenerationRequest) -> Task | None:
    """The create call, re-sent only when the reply proves no task was made; None: the job
    ended (may_exist, failed, cancelled) or the manager is shutting down."""
    clock, scheduler = core.clock, core.scheduler
    # This worker holds one of the create slots (see the scheduler's caps) until the create is done.
    give_up = clock.monotonic() + core.settings.ours(CREATE_RETRY_DEADLINE)
    while True:
        if scheduler.sleep(min(scheduler.backoff_until, give_up) - clock.monotonic()):
            return None
        if clock.monotonic() >= give_up:
            _create_gave_up(core, tracked)
            return None
        # The account's create budget (pacing.py) is waited for before the job says "submitting".
        pacer = scheduler.pacer
        if pacer.wait_turn(
            PACED_CREATE, getattr(core.client_for(tracked), "rate_info", None), scheduler.stopped
        ):
            return None
        failure: SeedanceError | None = None
        try:
            if not _mark_submitting(core, tracked, request):
                return None
            try:
                return core.single_for(tracked).create(request, client_business_id=tracked.business_id)
            except SeedanceError as err:
                failure = err
        finally:
            pacer.release(PACED_CREATE)
        assert failure is not None  # the create returned, or raised this
        reconnecting = _refused(core, tracked, failure)
        if reconnecting is None:
            return None
        if _retry_later(core, tracked, reconnecting):
            return None


def _mark_submitting(core: Engine, tracked: Tracked, request: GenerationRequest) -> bool:
    """The job goes ``submitting`` and that is on disk; False: it must not be sent (cancelled,
    or the record could not be written, which ends the job as not sent)."""
    job = tracked.job
    # Atomic with cancel(): either the cancel sees "submitting" (and says the task may be billed)
    # or this sees the cancel and sends nothing.
    if job._update(when=NOT_SENT, state=JobState.SUBMITTING) is None:
        return False
    client = core.client_for(tracked)
    try:
        # The request sent (inputs as uploaded URLs), and its exact body for people to read.
        submitting = {
            "job": job.local_id,
            "state": JobState.SUBMITTING,
            "request": request.to_dict(),
            "protocol": provider_of(client),
            "client_business_id": tracked.business_id,
            "body": body_for_ledger(client, request, tracked.business_id),
        }
        tracked.sent_at = core.clock.time()
        core.journal.write_durably("status", submitting)
    except OSError as err:
        # Unsent: without this record a restart could not tell the task may exist.
        core.fail_before_task(
            tracked,
            f"not sent, nothing billed: the ledger could not be written ({err.strerror or err}), "
            "and a create is only sent once it is recorded",
            LEDGER_WRITE_FAILED,
        )
        return False
    except ValidationError as err:
        # The provider's body refuses the request (found before the call): nothing was sent.
        core.fail_before_task(tracked, f"not sent, nothing billed: {err}", "not_sent")
        return False
    return True


def _refused(core: Engine, tracked: Tracked, err: SeedanceError) -> bool | None:
    """The verdict on a create that raised: retry (True: after a reconnect wait, False: when the
    account's back-off ends), or None when the job ended here. Re-raises what it cannot judge."""
    if isinstance(err, TaskMayExistError):
        resolve_lost(core, tracked, str(err))
        return None
    if isinstance(err, RateLimitError):
        # A 429 proves no task was made: wait with the whole account, then send again.
        core.account_backoff(err.retry_after)
        tracked.last_refusal = f"the gateway kept answering 429 (rate limited): {err}"
        return False
    if isinstance(err, TransportError):
        return _transport_verdict(core, tracked, err)
    if isinstance(err, ServerError):
        return _server_verdict(core, tracked, err)
    if isinstance(err, APIError):
        if err.status is not None and 400 <= err.status < 500:
            # The gateway refused the request itself (bad parameters, key, balance, policy).
            core.fail_before_task(tracked, str(err), str(err.code or err.type or err.status))
        else:
            # A 2xx reply without a usable task id (or no status at all): a task may exist.
            resolve_lost(core, tracked, f"the create's reply could not be used ({err})")
        return None
    if isinstance(err, ValidationError):
        # Refused locally, before any network call.
        core.fail_before_task(tracked, f"not sent, nothing billed: {err}", "not_sent")
        return None
    raise err


def _transport_verdict(core: Engine, tracked: Tracked, err: TransportError) -> bool | None:
    if not err.nothing_sent:
        # Sent, then no usable reply (e.g. an unreadable one): the task may exist.
        resolve_lost(core, tracked, f"the create was sent but no usable reply came ({err})")
        return None
    tracked.failures += 1
    tracked.last_refusal = f"could not connect to the gateway: {err}"
    return True


def _server_verdict(core: Engine, tracked: Tracked, err: ServerError) -> bool | None:
    if not (err.status == 503 and err.retry_after is not None):
        resolve_lost(
            core,
            tracked,
            f"the gateway answered the create with a server error ({err}); a task may or may "
            "not exist and may be billed, so it was not sent again",
        )
        return None
    core.account_backoff(err.retry_after)
    tracked.last_refusal = f"the gateway kept answering 503 (unavailable): {err}"
    return False


def _retry_later(core: Engine, tracked: Tracked, reconnecting: bool) -> bool:
    """Back to ``intent`` (recorded) until the next try; True when the manager is stopping."""
    job = tracked.job
    notice = {"reconnecting": reconnecting, **core.live_notice(job.local_id)}
    if job._update(when=(JobState.SUBMITTING,), state=JobState.INTENT, **notice):
        core.record("status", job=job.local_id, state=JobState.INTENT, error_code="retry")
    return reconnecting and core.scheduler.sleep(core.scheduler.reconnect_wait(tracked.failures))


def _create_gave_up(core: Engine, tracked: Tracked) -> None:
    minutes = CREATE_RETRY_DEADLINE / 60
    core.fail_before_task(
        tracked,
        f"not sent, nothing billed: {tracked.last_refusal or 'the create could not be sent'}, for "
        f"{minutes:g} minutes; no task was created. Submit it again when the gateway answers.",
        "not_sent",
    )


def resolve_lost(core: Engine, tracked: Tracked, reason: str) -> None:
    """A create whose reply was lost (``reason``): find its task by the job's
    ``client_business_id`` and attach to it; "not created" on the gateway's 404 after the grace;
    ``may_exist`` when it cannot tell (or the job has no business id: an earlier release's)."""
    business_id = tracked.business_id
    if business_id is None or not finds_by_business_id(core.client_for(tracked)):
        # No id to look it up by (Ark; or an earlier release's job): the user decides, never a re-create.
        core.may_exist(tracked, reason)
        return
    tracked.job._update(
        when=(JobState.SUBMITTING,),
        error=f"the create's reply was lost; looking its task up by client_business_id {business_id}",
        error_code="looking_up",
    )
    try:
        found = lookup.look_up(core, tracked, business_id)
    except Exception as err:
        log.exception("looking up the task of job %s failed unexpectedly", tracked.job.local_id)
        what = type(err).__name__  # its text could quote anything; the log has it
        core.may_exist(
            tracked, f"{reason}; looking it up by client_business_id {business_id} failed ({what})"
        )
        return
    if found is None:
        return  # shutting down: the job stays submitting, and the next manager looks again
    if found.task is not None:
        log.info(
            "job %s: lost create reply; found task %s by its business id", tracked.job.local_id, found.task.id
        )
        _created(core, tracked, found.task, found_by=business_id)
    elif found.absent:
        core.fail_before_task(
            tracked,
            f"not created (the gateway has no task with client_business_id {business_id}; {found.said()}): "
            "its create got no usable answer, and nothing was billed. Submit it again to generate.",
            "not_created",
        )
    else:
        core.may_exist(
            tracked,
            f"{reason}. Looked for it by client_business_id {business_id} but could not tell: {found.said()}",
        )


def look_up_later(core: Engine, tracked: Tracked, reason: str) -> None:
    """Queue :func:`resolve_lost` for the pool (a restart found the job ``submitting``)."""
    core.run_in_pool(lambda: _resolve_safely(core, tracked, reason), CREATE)


def _resolve_safely(core: Engine, tracked: Tracked, reason: str) -> None:
    if tracked.job.snapshot().is_final or core.stopping:
        return
    try:
        resolve_lost(core, tracked, reason)
    except Exception as err:
        log.exception("the lookup of job %s failed unexpectedly", tracked.job.local_id)
        _end_after_surprise(core, tracked, err)


def _created(core: Engine, tracked: Tracked, task: Task, *, found_by: str | None = None) -> None:
    """The gateway made the task: keep its id (in memory first), record it, start polling.
    ``found_by``: the business id it was found by after a lost reply."""
    job = tracked.job
    now = core.clock.time()
    core.scheduler.answered()
    tracked.created_at = tracked.watch_since = now
    tracked.failures = 0
    started = job._update(
        when=(JobState.SUBMITTING,),
        task_id=task.id,
        state=JobState.QUEUED,
        reconnecting=False,
        gateway_status=task.status,
        **core.live_notice(job.local_id),
    )
    if started is None:
        # Cancelled while the create was in flight: keep the task id, and say it may be billed.
        job._update(task_id=task.id, error=CANCEL_MESSAGE)
        with core.lock:
            if tracked.reserved_usd == 0.0:
                tracked.reserved_usd = core.budget.reserve(job.snapshot().cost_estimate, checked=False)
    # Kept in memory and retried when it cannot be written: the task id is never dropped.
    state = JobState.QUEUED if started is not None else job.snapshot().state
    core.record("created", job=job.local_id, task_id=task.id, state=state, found_by=found_by)
    if started is None:
        cancelling.cancel_after_create(core, tracked, task.id)
        return
    with core.lock:
        generation = tracked.generation
    core.schedule(tracked, core.settings.ours(core.settings.poll_policy.next_delay([])), generation)


def _end_after_surprise(core: Engine, tracked: Tracked, err: BaseException) -> None:
    """An unexpected error in the create path: end in the safe state the facts allow."""
    snap = tracked.job.snapshot()
    what = type(err).__name__  # its text could quote anything (even a header); the log has it
    if snap.task_id is not None:
        # The task is known and kept: make sure it is watched (a second poll entry is harmless).
        if snap.state in POLLED_STATES:
            core.schedule(tracked, 0.0)
        return
    if snap.state in NOT_SENT:
        core.fail_before_task(
            tracked, f"not sent, nothing billed: the create could not be prepared ({what})", "not_sent"
        )
    elif snap.state == JobState.SUBMITTING:
        core.may_exist(tracked, f"the create call failed unexpectedly ({what}) and may have been sent")

"""Rows 9a/9b/9c: a new manager opens a 100,000-record ledger (issue 16).

The ledger is what months of work on a shared folder leave: about 13,000 jobs by many kernels
(owners), each with its intent, submitting, created, progress polls and an end (done with a
path, failed, cancelled before or after its create, expired, timed out, may exist), images
uploaded for some, reruns of the same request, and the earlier release's version-1 records
(ToAPIs bodies, body hashes) before the version-2 ones. The records are written with the
engine's own shapes (see engine/creating.py, watching.py, transfers.py). A few of the newest
jobs have their video on disk: those are the cache lookups that must work.

Each repeat is a fresh interpreter, imports done before the clock starts:
- ours: ``JobManager(folder)`` (no client is made) then ``is_cached`` of the saved requests,
  which must all answer True (the first usable state);
- baseline, in the same run, alternating: read the file and ``json.loads`` every line.
9a is the ratio of medians (target <= 3x), 9b ours in seconds (<= 1 s), 9c the memory growth of
the open (peak RSS minus RSS before it, MB, <= 150).
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ._env import ROOT, NotMeasured, child_env

RECORDS = 100_000
QUICK_RECORDS = 5_000
#: The newest jobs whose video is kept on disk: the requests the cache must answer.
SAVED = 5
_T0 = 1_780_000_000.0  # May 2026: six months of work before "now"
_DAY = 86_400.0
_MODELS = ("doubao-seedance-1-5-pro", "doubao-seedance-1-0-pro-fast", "doubao-seedance-2-0-fast")
_WORDS = [
    "a",
    "paper",
    "boat",
    "lighthouse",
    "fox",
    "city",
    "night",
    "rain",
    "neon",
    "slow",
    "dolly",
    "shot",
    "over",
    "the",
    "harbour",
    "at",
    "dusk",
]

_OPEN = """
import json, sys, time
from seedance_widgets.api import GenerationRequest
from seedance_widgets.engine import JobManager

def rss(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
folder, probes = sys.argv[1], json.loads(sys.argv[2])
requests = [GenerationRequest.from_dict(p) for p in probes]
before = rss("VmRSS")
t0 = time.perf_counter()
manager = JobManager(folder)
hits = [manager.is_cached(r) for r in requests]
elapsed = time.perf_counter() - t0
mb = rss("VmHWM") - before
import threading
for thread in threading.enumerate():  # an index being written beside the ledger: let it finish
    if thread.name == "seedance-ledger-index":
        thread.join()
print(json.dumps({"s": elapsed, "hits": hits, "jobs": len(manager.jobs()), "mb": mb}))
"""

_PARSE = """
import json, sys, time
def rss(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
before = rss("VmRSS")
t0 = time.perf_counter()
with open(sys.argv[1], "rb") as fh:
    records = [json.loads(line) for line in fh.read().split(b"\\n") if line.strip()]
elapsed = time.perf_counter() - t0
print(json.dumps({"s": elapsed, "n": len(records), "mb": rss("VmHWM") - before}))
"""


# ---- the ledger ---------------------------------------------------------------------------------
def _prompt(rng: random.Random) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 12)))


def _neutral(prompt: str, model: str, seed: int | None, image: str | None) -> dict[str, Any]:
    """A request as version 2 writes it (``GenerationRequest.to_dict()``)."""
    roles = [{"url": image, "role": "first_frame"}] if image else []
    return {
        "prompt": prompt,
        "duration": 5,
        "aspect_ratio": "16:9",
        "resolution": "480p",
        "audio": model.endswith("2-0-fast"),
        "seed": seed,
        "camera_fixed": False,
        "image_urls": [],
        "image_with_roles": roles,
        "model": model,
        "video_with_roles": [],
        "audio_with_roles": [],
        "return_last_frame": False,
        "web_search": False,
    }


def _body(prompt: str, model: str, seed: int | None, image: str | None) -> dict[str, Any]:
    """A request as version 1 wrote it (the ToAPIs body)."""
    body: dict[str, Any] = {
        "model": model,
        "prompt": prompt,
        "duration": 5,
        "aspect_ratio": "16:9",
        "metadata": {"resolution": "480p", "audio": False},
    }
    if seed is not None:
        body["metadata"]["seed"] = seed
    if image:
        body["image_with_roles"] = [{"url": image, "role": "first_frame"}]
    return body


def _key(neutral: dict[str, Any]) -> str:
    """The engine's own cache key of a request (the saved jobs must be found by it)."""
    from seedance_widgets.api import GenerationRequest
    from seedance_widgets.engine.store import request_key

    return request_key(GenerationRequest.from_dict(neutral))


class _Writer:
    """Writes one job's records at a time, in the engine's shapes."""

    def __init__(self, folder: Path, rng: random.Random) -> None:
        self.folder = folder
        self.rng = rng
        self.lines: list[str] = []
        self.saved: list[tuple[dict[str, Any], Path, bytes]] = []
        self.owner = ""
        self.sent = 0

    def add(self, v: int, at: float, event: str, **fields: Any) -> None:
        record = {"v": v, "at": round(at, 3), "event": event, "owner": self.owner}
        record.update({k: value for k, value in fields.items() if value is not None})
        self.lines.append(json.dumps(record, separators=(",", ":"), ensure_ascii=False))

    def job(self, n: int, at: float, v: int, *, keep: bool = False) -> float:
        rng = self.rng
        local = f"job-{n:010x}"
        model = _MODELS[0] if v == 1 else rng.choice(_MODELS)  # the earlier release knew 1.5 Pro
        prompt = _prompt(rng)
        seed = rng.choice((None, None, rng.randrange(2**32)))
        sha_in = hashlib.sha256(f"img{n}".encode()).hexdigest() if rng.random() < 0.15 else None
        image_url = f"https://gateway.example/files/uploads/{n}.png" if sha_in else None
        images = [{"role": "first_frame", "url": None, "sha256": sha_in}] if sha_in else None
        neutral = _neutral(prompt, model, seed, None)
        request = neutral if v == 2 else _body(prompt, model, seed, None)
        rhash = (
            _key(neutral)
            if keep
            else hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        )
        common = {"client_business_id": f"sw-{local}", "protocol": "toapis"} if v == 2 else {}
        cost = 0.048 if "1-5" in model else 0.1
        self.add(
            v,
            at,
            "intent",
            job=local,
            request_hash=rhash,
            request=request,
            images=images,
            state="intent",
            cost_estimate=cost,
            **common,
        )
        if sha_in:
            at += rng.uniform(0.1, 2)
            self.add(v, at, "status", job=local, state="uploading")
            path = f"uploads/{sha_in[:16]}.png"
            self.add(v, at + 0.3, "uploaded", job=local, sha256=sha_in, url=image_url, path=path)
        end = rng.random() if not keep else 1.0
        at += rng.uniform(0.01, 0.5)
        if end < 0.02:  # the kernel stopped before the create: cancelled as never sent
            self.add(
                v,
                at + 3600,
                "cancelled",
                job=local,
                state="cancelled",
                error="stopped before it was sent: nothing was created or billed",
            )
            return at
        sent_body = _body(prompt, model, seed, image_url)
        if v == 2:
            sent_body["client_business_id"] = f"sw-{local}"
            sent = _neutral(prompt, model, seed, image_url)
            self.add(v, at, "status", job=local, state="submitting", request=sent, body=sent_body, **common)
        else:
            self.add(v, at, "status", job=local, state="submitting", body=sent_body)
        self.sent += 1
        task = f"task_vid_{hashlib.md5(local.encode()).hexdigest()[:20]}"
        at += rng.uniform(0.2, 1.5)
        if end < 0.03:
            self.add(
                v,
                at + 600,
                "may_exist",
                job=local,
                state="may_exist",
                finished_at=round(at + 600, 3),
                error="the create's reply was lost; nothing will be sent again",
                error_code="may_exist",
            )
            return at
        self.add(v, at, "created", job=local, task_id=task, state="queued")
        progress = 0
        for _ in range(rng.randint(1, 6)):  # the polls that saw progress
            at += rng.uniform(5, 40)
            progress = min(99, progress + rng.randint(5, 40))
            self.add(v, at, "status", job=local, task_id=task, state="running", progress=progress)
        at += rng.uniform(5, 30)
        if end < 0.12:
            self.add(
                v,
                at,
                "failed",
                job=local,
                task_id=task,
                state="failed",
                finished_at=round(at, 3),
                error="Generation failed: the model could not render this prompt",
                error_code="generation_failed",
            )
            return at
        if end < 0.15:
            self.add(
                v,
                at,
                "cancelled",
                job=local,
                task_id=task,
                state="cancelled",
                error="cancelled: no longer watched",
                cancel_outcome="stopped_watching",
            )
            return at
        if end < 0.17:
            self.add(
                v,
                at + 900,
                "timed_out",
                job=local,
                task_id=task,
                state="timed_out",
                finished_at=round(at + 900, 3),
                error="no answer in 15 min",
                error_code="timed_out",
            )
            return at
        url = f"https://gateway.example/files/videos/{task}.mp4"
        self.add(
            v,
            at,
            "status",
            job=local,
            task_id=task,
            state="downloading",
            video_url=url,
            expires_at=round(at + _DAY),
            seed=seed or rng.randrange(2**32),
            progress=100,
        )
        if end < 0.19:
            self.add(
                v,
                at + 5,
                "expired",
                job=local,
                task_id=task,
                state="expired",
                finished_at=round(at + 5, 3),
                error="the video URL expired",
                error_code="url_expired",
            )
            return at
        data = f"video of {local} {rng.random()}".encode() * 50
        sha = hashlib.sha256(data).hexdigest()
        rel = f"videos/{sha[:16]}-{local}.mp4"
        at += rng.uniform(1, 5)
        self.add(
            v,
            at,
            "downloaded",
            job=local,
            task_id=task,
            state="done",
            path=rel,
            sha256=sha,
            request_hash=rhash,
            finished_at=round(at, 3),
        )
        if keep:
            self.saved.append((neutral, self.folder / rel, data))
        return at


def build_ledger(folder: Path, records: int, *, seed: int = 16) -> list[dict[str, Any]]:
    """Write ``folder/ledger.jsonl`` of about ``records`` records; returns the saved requests
    (``to_dict`` form) whose videos are on disk."""
    rng = random.Random(seed)
    writer = _Writer(folder, rng)
    at, n = _T0, 0
    while len(writer.lines) < records - 8 * SAVED:
        if n % rng.randint(20, 80) == 0:
            writer.owner = hashlib.md5(f"owner{n}".encode()).hexdigest()[:12]  # a new kernel
            at += rng.uniform(0.1, 2) * _DAY
        version = 1 if len(writer.lines) < records * 0.3 else 2
        writer.job(n, at, version)
        if rng.random() < 0.05:  # a rerun of the same request later
            writer.job(n + 1, at + rng.uniform(60, 3600), version)
            n += 1
        at += rng.uniform(1, 120)
        n += 1
    for k in range(SAVED):
        at += 120
        writer.job(n + k, at, 2, keep=True)
    (folder / "videos").mkdir(parents=True, exist_ok=True)
    for _, path, data in writer.saved:
        path.write_bytes(data)
    (folder / "ledger.jsonl").write_text("\n".join(writer.lines) + "\n")
    return [neutral for neutral, _, _ in writer.saved]


# ---- the measure ------------------------------------------------------------------------------
def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def run(quick: bool = False) -> dict[str, Any]:
    records = QUICK_RECORDS if quick else RECORDS
    repeats = 1 if quick else 5
    ours: list[float] = []
    cold: list[float] = []
    base: list[float] = []
    mem: list[float] = []
    cold_mem: list[float] = []
    base_mem: list[float] = []
    with tempfile.TemporaryDirectory(prefix="seedance-bench-ledger-") as tmp:
        folder = Path(tmp) / "out"
        probes = build_ledger(folder, records)
        ledger = folder / "ledger.jsonl"
        lines = ledger.read_bytes().count(b"\n")
        env = child_env()
        env.pop("TOAPIS_API_KEY", None)  # no client is wanted: a key would change nothing measured
        # The folder as the engine leaves it: the first manager to read the ledger (here, the
        # 100,000th record's) keeps its fold beside it (ledger.index.json; see ledger_index.py).
        used = Path(tmp) / "used"
        _copy_folder(folder, used)
        first = _child(_OPEN, env, str(used), json.dumps(probes))
        jobs = first["jobs"]
        for i in range(repeats + 1):  # the first round warms the file cache and .pyc files
            # Each open gets a fresh copy: an open may append records (e.g. to close dead intents).
            warm, fresh = Path(tmp) / f"warm{i}", Path(tmp) / f"cold{i}"
            _copy_folder(used, warm)
            _copy_folder(folder, fresh)
            a = _child(_OPEN, env, str(warm), json.dumps(probes))
            c = _child(_OPEN, env, str(fresh), json.dumps(probes))
            b = _child(_PARSE, env, str(ledger))
            if not all(a["hits"]) or not all(c["hits"]):
                raise NotMeasured(
                    f"a saved video was not a cache hit after the open: {a['hits']} {c['hits']}"
                )
            shutil.rmtree(warm)
            shutil.rmtree(fresh)
            if i == 0:
                continue
            ours.append(a["s"])
            mem.append(a["mb"])
            cold.append(c["s"])
            cold_mem.append(c["mb"])
            base.append(b["s"])
            base_mem.append(b["mb"])
    note = (
        f"{lines} records, {jobs} jobs; JobManager(folder) + {len(probes)} is_cached lookups, the folder as "
        f"left by a manager (index beside the ledger) vs read + json.loads of every line (median "
        f"{_median(base):.3f} s, {_median(base_mem):.0f} MB); without the index (first open): median "
        f"{_median(cold):.3f} s = {_median(cold) / _median(base):.2f}x, {_median(cold_mem):.0f} MB"
    )
    extra = {
        "records": lines,
        "jobs": jobs,
        "parse_mb": base_mem,
        "cold_s": cold,
        "cold_mb": cold_mem,
        "note": note,
    }
    return {
        "rows": [
            {"id": "9a", "value": ours, "baseline_value": base, "extra": extra},
            {"id": "9b", "value": ours},
            {"id": "9c", "value": [max(a, c) for a, c in zip(mem, cold_mem, strict=True)]},
        ]
    }


def _copy_folder(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest)


def _child(code: str, env: dict[str, str], *args: str) -> Any:
    """Run ``code`` with ``args`` in a fresh interpreter; its last stdout line is JSON."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        raise NotMeasured(f"child python failed (rc={proc.returncode}): {tail[:200]}")
    return json.loads(lines[-1])

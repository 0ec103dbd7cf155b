"""Rows 3a/3b: ``SeedanceClient.download`` of a 200 MB MP4 vs ``curl -o``, same file, same loopback server.

The file is served by a stdlib server in its own process (sendfile, keep-alive). Each
download by our client runs in a fresh interpreter so its memory reading is its own:
growth = peak RSS during the download (VmHWM, reset just before via clear_refs) minus
RSS before it; a separate run under tracemalloc gives the Python allocation peak
(tracemalloc slows Python down, so that run is not timed). curl and our client
alternate, writing to the same folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._env import NotMeasured, child_env, run_python, tool

MB = 1_000_000

_CLIENT = """
import json, os, time, sys
{trace}
from seedance_widgets.api import SeedanceClient

def status(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024

client = SeedanceClient(api_key="bench-key", base_url="http://127.0.0.1:1")
url, dest = {url!r}, {dest!r}
try:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset the peak-RSS mark so VmHWM covers only the download
    reset = True
except OSError:
    reset = False
rss0 = status("VmRSS")
{trace_reset}
t0 = time.perf_counter()
client.download(url, dest)
seconds = time.perf_counter() - t0
out = {{"s": seconds, "bytes": os.path.getsize(dest), "rss0": rss0, "hwm": status("VmHWM"),
        "rss1": status("VmRSS"), "hwm_reset": reset}}
{trace_out}
print(json.dumps(out))
"""


def make_mp4_like(path: Path, size: int) -> None:
    """A file shaped like an MP4: ``ftyp``, one ``mdat`` of random bytes, then an (empty) ``moov``.

    The client walks the top-level boxes (first ``ftyp``, a ``moov``, sizes adding up to
    the file's length), so the boxes must be consistent; random bytes so nothing can compress them.
    """
    ftyp = (24).to_bytes(4, "big") + b"ftypisom" + (512).to_bytes(4, "big") + b"isomiso2"
    moov = (8).to_bytes(4, "big") + b"moov"
    mdat = size - len(ftyp) - len(moov)
    with path.open("wb") as fh:
        fh.write(ftyp)
        fh.write(mdat.to_bytes(4, "big") + b"mdat")
        left = mdat - 8
        block = os.urandom(1 << 20)
        while left > 0:
            n = min(left, len(block))
            fh.write(block[:n])
            left -= n
        fh.write(moov)


@contextlib.contextmanager
def file_server(folder: Path) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._fileserver", str(folder)],
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        assert proc.stdout is not None
        port = json.loads(proc.stdout.readline())["port"]
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def _client_once(url: str, dest: Path, traced: bool) -> dict[str, Any]:
    code = _CLIENT.format(
        url=url,
        dest=str(dest),
        trace="import tracemalloc; tracemalloc.start()" if traced else "",
        trace_reset="traced0 = tracemalloc.get_traced_memory()[0]; tracemalloc.reset_peak()"
        if traced
        else "",
        trace_out='out["traced_peak"] = tracemalloc.get_traced_memory()[1] - traced0' if traced else "",
    )
    try:
        return run_python(code)
    finally:
        dest.unlink(missing_ok=True)


def _curl_once(curl: str, url: str, dest: Path) -> float:
    try:
        proc = subprocess.run(
            [curl, "-s", "-S", "-o", str(dest), "-w", "%{time_total} %{size_download}", url],
            capture_output=True,
            text=True,
            check=True,
        )
        seconds, size = proc.stdout.split()
        return float(size) / float(seconds) / MB
    finally:
        dest.unlink(missing_ok=True)


def run(quick: bool = False) -> dict[str, Any]:
    size = (20 if quick else 200) * MB
    repeats = 2 if quick else 7
    curl = tool("curl")
    ours: list[float] = []
    base: list[float] = []
    growth: list[float] = []
    extra: dict[str, Any] = {"file_bytes": size}
    with tempfile.TemporaryDirectory(prefix="seedance-bench-") as tmp:
        serve, out = Path(tmp, "serve"), Path(tmp, "out")
        serve.mkdir()
        out.mkdir()
        make_mp4_like(serve / "clip.mp4", size)
        with file_server(serve) as base_url:
            url = f"{base_url}/clip.mp4"
            _curl_once(curl, url, out / "warm.mp4")  # page cache warm for both sides
            for _ in range(repeats):
                r = _client_once(url, out / "ours.mp4", traced=False)
                if r["bytes"] != size:
                    raise NotMeasured(f"client downloaded {r['bytes']} of {size} bytes")
                ours.append(r["bytes"] / r["s"] / MB)
                growth.append(max(0, r["hwm"] - r["rss0"]) / MB)
                extra["hwm_reset"] = r["hwm_reset"]
                base.append(_curl_once(curl, url, out / "curl.mp4"))
            traced = _client_once(url, out / "traced.mp4", traced=True)
            extra["tracemalloc_peak_MB"] = traced["traced_peak"] / MB
            extra["note"] = (
                f"{size // MB} MB; growth = peak RSS - RSS before (VmHWM); "
                f"Python allocation growth peak (tracemalloc) {traced['traced_peak'] / MB:.2f} MB"
            )
        shutil.rmtree(out, ignore_errors=True)
    return {
        "rows": [
            {
                "id": "3a",
                "measure": f"download {size // MB} MB: throughput",
                "value": ours,
                "baseline_value": base,
                "unit": "MB/s",
                "extra": extra,
            },
            {
                "id": "3b",
                "value": growth,
                "unit": "MB",
                "measure": f"download {size // MB} MB: memory growth",
            },
        ]
    }

"""The rows of the table, their baselines and targets (issue 7), and which module measures each."""

from __future__ import annotations

from ._core import Row, Target

# (row group, module in benchmarks/) in the order the table prints them.
GROUPS: list[tuple[str, str]] = [
    ("1", "bench_poll_policy"),
    ("2", "bench_jobs"),
    ("3", "bench_download"),
    ("4", "bench_cpu_cell"),
    ("5", "bench_import"),
    ("6", "bench_render"),
    ("7", "bench_ui_latency"),
    ("8", "bench_notebook"),
]

ADVISED = "advised loop (5 s, then every 10 s)"

SPEC: list[Row] = [
    Row("1a", "poll: completion -> job notices it", ADVISED, Target("<=", 0.25), "s"),
    Row("1b", "poll: GET requests per job", ADVISED, Target("<=", 1.0), "GETs"),
    Row("2a", "200 concurrent jobs: wall time", "slowest single job", Target("<=", 1.10), "s"),
    Row("2b", "200 concurrent jobs: max threads", "(absolute)", Target("<=", 8, "absolute"), "threads"),
    Row("3a", "download 200 MB: throughput", "curl -o, same file", Target(">=", 0.8), "MB/s"),
    Row("3b", "download 200 MB: memory growth", "(absolute)", Target("<=", 16, "absolute"), "MB"),
    Row("4", "CPU-bound cell while 100 jobs poll", "same cell, no jobs", Target("<=", 1.10), "s"),
    Row("5", "import seedance_widgets + %load_ext", "import anywidget, ipywidgets", Target("<=", 1.3), "s"),
    Row("6", "emulator render 5 s 720p + audio", "ffmpeg -f lavfi, same spec", Target("<=", 1.5), "s"),
    Row("7", "progress change -> bar moves (Chromium)", "(absolute)", Target("<=", 250, "absolute"), "ms"),
    Row("8a", "2nd run of notebook, N generations", "same notebook, no generations", Target("<=", 1.2), "s"),
    Row("8b", "2nd run of notebook: API calls", "(absolute)", Target("<=", 0, "absolute"), "calls"),
]

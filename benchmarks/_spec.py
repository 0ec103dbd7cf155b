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
    ("9", "bench_ledger"),
    # One module, measured once per run (it keeps its results): rate limits, then 10,000 jobs.
    ("10", "bench_scale"),
    ("11", "bench_scale"),
    ("12", "bench_scale"),
    ("13", "bench_scale"),
    ("14", "bench_gallery"),
    ("15", "bench_playing"),
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
    Row("8a", "2nd run of notebook, N generations", "same notebook, no generations", Target("<=", 1.1), "s"),
    Row("8b", "2nd run of notebook: API calls", "(absolute)", Target("<=", 0, "absolute"), "calls"),
    Row("9a", "open a 100,000-record ledger", "read + json.loads every line", Target("<=", 3.0), "s"),
    Row("9b", "open a 100,000-record ledger", "(absolute)", Target("<=", 1.0, "absolute"), "s"),
    Row("9c", "open a 100,000-record ledger: memory", "(absolute)", Target("<=", 150, "absolute"), "MB"),
    Row("10a", "1,000 jobs, default caps: completion -> noticed", ADVISED + ", same caps", Target("<=", 0.5)),
    Row("10b", "1,000 jobs, default caps: engine's 429s", "(absolute)", Target("<=", 0, "absolute"), "429s"),
    Row("11a", "10,000 jobs in one kernel: not finished", "(absolute)", Target("<=", 0, "absolute"), "jobs"),
    Row("11b", "10,000 jobs: duplicate creates", "(absolute)", Target("<=", 0, "absolute"), "tasks"),
    Row("12a", "10,000 jobs: max threads", "(absolute)", Target("<=", 8, "absolute"), "threads"),
    Row("12b", "10,000 jobs: memory growth", "(absolute)", Target("<=", 300, "absolute"), "MB"),
    Row("13", "CPU-bound cell while 10,000 jobs run", "same cell, no jobs", Target("<=", 1.15), "s"),
    Row("14a", "100-card gallery: first paint", "(absolute)", Target("<=", 1000, "absolute"), "ms"),
    Row("14b", "100-card gallery: video fetches, no scroll", "cards in view", Target("<=", 1.0), "fetches"),
    Row("14c", "100-card gallery: JS heap, all scrolled", "(absolute)", Target("<=", 150, "absolute"), "MB"),
    Row("15", "completion -> <video> canplay, 12 s 720p", "curl -o, same file", Target("<=", 1.5), "s"),
]

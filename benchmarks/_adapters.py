"""Read the results of benchmarks written by other owners when they do not return ``{"rows": [...]}``.

The preferred shape is in benchmarks/README.md. These readers accept the obvious
alternatives (per-job lists under "policy"/"baseline", a latency list in ms or s) and
otherwise report which keys they found, so a mismatch shows up as an honest
"not measured" rather than a wrong number.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

_POLICY_SIDES = ("policy", "smart", "ours", "default", "adaptive", "new")
_BASE_SIDES = ("baseline", "advised", "gateway", "fixed", "naive")


def _numbers(x: Any) -> list[float]:
    if isinstance(x, bool):
        return []
    if isinstance(x, (int, float)):
        return [float(x)]
    if isinstance(x, (list, tuple)):
        out: list[float] = []
        for v in x:
            out.extend(_numbers(v))
        return out
    return []


def _find(d: dict[str, Any], words: tuple[str, ...]) -> Any:
    for key, value in d.items():
        if any(w in key.lower() for w in words):
            return value
    return None


def _side(result: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any] | None:
    for key, value in result.items():
        if isinstance(value, dict) and any(n in key.lower() for n in names):
            return value
    return None


def _mean_ratio(a: list[float], b: list[float]) -> float | None:
    if not a or not b or statistics.fmean(b) == 0:
        return None
    return statistics.fmean(a) / statistics.fmean(b)


def poll_policy(result: dict[str, Any]) -> dict[str, Any]:
    """Rows 1a/1b from per-job delays and GET counts of the policy and of the advised loop."""
    policy, base = _side(result, _POLICY_SIDES), _side(result, _BASE_SIDES)
    if policy is None or base is None:
        return {
            "not_measured": f"bench_poll_policy.run returned an unknown shape (keys {sorted(result)[:10]})"
        }
    rows = []
    for rid, words in (("1a", ("delay", "latenc", "notice")), ("1b", ("request", "get", "poll"))):
        a, b = _numbers(_find(policy, words)), _numbers(_find(base, words))
        row: dict[str, Any] = {"id": rid, "value": a, "baseline_value": b}
        ratio = _mean_ratio(a, b)
        if ratio is not None:
            row["ratio"] = ratio
            row["extra"] = {
                "note": "ratio of means over jobs",
                "mean": statistics.fmean(a),
                "base_mean": statistics.fmean(b),
            }
        rows.append(row)
    return {"rows": rows, "extra": {k: v for k, v in result.items() if not isinstance(v, (dict, list))}}


def ui_latency(result: dict[str, Any]) -> dict[str, Any]:
    """Row 7 from a list of latencies (ms, or seconds when the key says so)."""
    reason = _find(result, ("not_measured", "skipped", "reason", "error"))
    for key, value in result.items():
        nums = _numbers(value)
        low = key.lower()
        if nums and ("latenc" in low or "ms" in low or "sample" in low):
            if low.endswith("_s") or "second" in low:
                nums = [n * 1000 for n in nums]
            return {"rows": [{"id": "7", "value": nums}]}
    return {
        "not_measured": str(reason) if reason else f"bench_ui_latency.run returned keys {sorted(result)[:10]}"
    }


ADAPTERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "bench_poll_policy": poll_policy,
    "bench_ui_latency": ui_latency,
}

"""Headline figures of a benchmark as JSON (``--json PATH``), for bench/run_all.py.

Each benchmark script keeps printing its own report; with ``--json PATH`` it also writes::

    {"benchmark": "eligibility", "backend": "sqlite", "server_version": "3.40.1",
     "ok": true, "problems": [], "params": {...}, "seconds": 41.2,
     "figures": [{"key": "eligibility.batch", "label": "...", "value": 70866.0,
                  "unit": "questions/s", "baseline": 122912.0, "baseline_label": "...",
                  "ratio": 0.58, "p50": 138.0, "p99": 157.0, "latency_unit": "ms",
                  "latency_of": "a batch of 10,000"}, ...]}

``ratio`` is always the figure's *speed* against its baseline's, measured in the same run:
rate / baseline rate, or baseline time / time. 1.0 is as fast as the baseline; 0.25 is four
times slower. ``p50`` and ``p99`` are latencies of what ``latency_of`` says, in
``latency_unit``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any


def percentile(samples, q: float) -> float:
    """The q-quantile of ``samples`` (nearest rank); NaN when there are none."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def figure(key: str, label: str, value: float | None, unit: str, *, baseline: float | None = None,
           baseline_label: str | None = None, ratio: float | None = None, p50: float | None = None,
           p99: float | None = None, latency_unit: str = "ms", latency_of: str | None = None,
           higher_is_better: bool = True, note: str | None = None) -> dict[str, Any]:
    """One headline figure. Without an explicit ``ratio``, it is worked out from ``value`` and
    ``baseline``: value / baseline for a rate (``higher_is_better``), baseline / value for a time."""
    if ratio is None and baseline and value:
        ratio = value / baseline if higher_is_better else baseline / value
    return {
        "key": key, "label": label, "value": _number(value), "unit": unit,
        "baseline": _number(baseline), "baseline_label": baseline_label, "ratio": _number(ratio),
        "p50": _number(p50), "p99": _number(p99), "latency_unit": latency_unit, "latency_of": latency_of,
        "higher_is_better": higher_is_better, "note": note,
    }


def _number(value):
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def write(path: str | os.PathLike | None, benchmark: str, backend: str, server_version: str, figures: list[dict],
          *, ok: bool = True, problems: list[str] | None = None, params: dict | None = None, seconds: float | None = None) -> None:
    """Write the JSON (nothing when ``path`` is None); atomically, so a reader never sees half."""
    if not path:
        return
    document = {
        "benchmark": benchmark, "backend": backend, "server_version": str(server_version), "ok": ok and not problems,
        "problems": list(problems or []), "params": params or {}, "seconds": seconds, "figures": figures,
    }
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    partial.replace(target)


def print_report(title: str, rows: list[tuple[str, str]], *, rule: int = 90) -> None:
    """A benchmark's printed report: the title line (the database, Python, the parameters), a
    rule, then one ``name  figure`` line per row, the names aligned."""
    import sys
    from datetime import date

    width = max(len(name) for name, _ in rows)
    print(f"\nNeedle Registry {title}, Python {sys.version.split()[0]}, {date.today()}")
    print("-" * (width + rule))
    for name, figure in rows:
        print(f"{name:<{width}}  {figure}")

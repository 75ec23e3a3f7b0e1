"""Benchmark of the rules register: CSV import, as-of look-ups, pages and API.

Usage: python bench/rules_bench.py [--database-url URL] [--requests N] [--json PATH]

Builds a throw-away database (a temporary SQLite file by default; with a PostgreSQL URL the
tables in that database are dropped and rebuilt), so never point it at real data.
Prints one table; nothing here asserts a speed. With ``--json PATH`` it also writes its headline
figures there (bench/headline.py), for bench/run_all.py.
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import headline  # noqa: E402
from registry import create_app  # noqa: E402
from registry.extensions import db  # noqa: E402
from registry.rules import services  # noqa: E402
from registry.rules.csvio import COLUMNS  # noqa: E402
from registry.scratch import database_version, rebuild_schema  # noqa: E402


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def synthetic_csv(versions_per_pair: int) -> str:
    """Every real pair's current row, preceded by N-1 invented earlier versions (dates only)."""
    with (ROOT / "data" / "state_rules.csv").open(encoding="utf-8") as fh:
        current = [r for r in csv.DictReader(fh) if not r["effective_to"]]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    start = date(1990, 1, 1)
    for r in current:
        days = [start + timedelta(days=30 * i) for i in range(versions_per_pair)]
        for i in range(versions_per_pair - 1):
            writer.writerow(dict(r, effective_from=days[i].isoformat(), effective_to=days[i + 1].isoformat()))
        writer.writerow(dict(r, effective_from=days[-1].isoformat(), effective_to=""))
    return buffer.getvalue()


def import_once(content: str) -> tuple[float, int]:
    start = time.perf_counter()
    plan = services.read_rules_csv(io.StringIO(content))
    services.plan_import(plan)
    assert plan.ok, plan.errors[:3]
    services.apply_import(plan, actor=services.Actor(None, "bench"), source="bench")
    db.session.commit()
    return time.perf_counter() - start, len(plan.rows)


def reset_schema(app) -> None:
    rebuild_schema(app)
    with app.app_context():
        services.seed_reference_data()
        db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the headline figures to PATH as JSON (bench/headline.py)")
    args = parser.parse_args()
    started = time.perf_counter()
    figures: list[dict] = []
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{tmp.name}/bench.db"
    # the API's rate limit raised out of reach, still counted (as in bench/gate.py)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": False, "API_RATE_LIMIT": "100000000 per minute"})
    reset_schema(app)
    rows: list[tuple[str, str]] = []
    real = (ROOT / "data" / "state_rules.csv").read_text(encoding="utf-8")
    with app.app_context():
        seconds, n = import_once(real)
        rows.append(("import data/state_rules.csv (first time)", f"{n} rows in {seconds * 1000:.0f} ms = {n / seconds:,.0f} rows/s"))
        seconds, n = import_once(real)
        rows.append(("re-import, nothing changes", f"{n} rows in {seconds * 1000:.0f} ms = {n / seconds:,.0f} rows/s"))
        samples = timed(lambda: services.rules_in_force(date.today()), 200)
        rows.append(("rules_in_force(today), all 104 pairs", f"p50 {percentile(samples, .5):.2f} ms, p99 {percentile(samples, .99):.2f} ms"))
        samples = timed(lambda: services.rule_in_force("WA", "PT", date(2024, 1, 1)), 500)
        figures.append(headline.figure(
            "rules.lookup", "rule_in_force(WA, PT, 2024-01-01) look-ups", 1000 / statistics.mean(samples), "look-ups/s",
            p50=percentile(samples, .5), p99=percentile(samples, .99), latency_of="a look-up",
        ))
        rows.append(("rule_in_force(WA, PT, 2024-01-01)", f"p50 {percentile(samples, .5):.2f} ms, p99 {percentile(samples, .99):.2f} ms"))
        samples = timed(services.export_text, 20)
        rows.append(("export all live versions", f"p50 {percentile(samples, .5):.1f} ms"))
    reset_schema(app)
    big = synthetic_csv(100)
    with app.app_context():
        seconds, n = import_once(big)
        rows.append(("import synthetic 100 versions x 104 pairs", f"{n:,} rows in {seconds:.2f} s = {n / seconds:,.0f} rows/s"))
        figures.append(headline.figure("rules.import", f"rules CSV import, {n:,} synthetic versions", n / seconds, "rows/s"))
        seconds, n = import_once(big)
        rows.append(("re-import of the same, nothing changes", f"{n:,} rows in {seconds:.2f} s = {n / seconds:,.0f} rows/s"))
    reset_schema(app)
    with app.app_context():
        import_once(real)
    client = app.test_client()
    baseline_rate = None
    headlines = {"/api/v1/rules?profession=PT": ("rules.api", "GET /api/v1/rules?profession=PT, test client"),
                 "/": ("rules.page", "GET / (map + table), test client")}
    for label, path in [
        ("GET /api/v1/jurisdictions (baseline)", "/api/v1/jurisdictions"),
        ("GET /api/v1/rules?profession=PT", "/api/v1/rules?profession=PT"),
        ("GET /api/v1/rules/WA/PT/history", "/api/v1/rules/WA/PT/history"),
        ("GET / (map + table)", "/"),
        ("GET /jurisdictions/WA", "/jurisdictions/WA"),
    ]:
        response = client.get(path)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.get_data(as_text=True)[:2000]}"
        samples = timed(lambda p=path: client.get(p), args.requests)
        rate = 1000 / statistics.mean(samples)
        baseline_rate = baseline_rate or rate  # the first, /api/v1/jurisdictions, is the baseline
        if path in headlines:
            key, name = headlines[path]
            figures.append(headline.figure(
                key, name, rate, "requests/s", baseline=baseline_rate, baseline_label="GET /api/v1/jurisdictions, test client",
                p50=percentile(samples, .5), p99=percentile(samples, .99), latency_of="a request (in-process)",
            ))
        rows.append((label + " [in-process test client]", f"p50 {percentile(samples, .5):.2f} ms, p99 {percentile(samples, .99):.2f} ms, {1000 / statistics.mean(samples):,.0f} req/s"))
    with app.app_context():
        backend, server = database_version()
        db.session.remove()
        db.engine.dispose()
    headline.print_report(f"rules benchmark: {backend} {server}", rows, rule=50)
    headline.write(args.json, "rules", backend, server, figures, params={"requests": args.requests}, seconds=time.perf_counter() - started)
    tmp.cleanup()


if __name__ == "__main__":
    main()

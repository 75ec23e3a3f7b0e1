"""Every benchmark on SQLite and on PostgreSQL, one table: what ``make bench`` runs.

Usage: python bench/run_all.py [--database-url URL] [--quick] [--only NAMES] [--databases LIST]
                               [--doc PATH | --no-doc] [--keep-json DIR] [--timeout SEC]

Runs each benchmark script (bench/rules_bench.py, eligibility.py, gate.py, alerts.py,
import_rate.py, pages.py) as a subprocess, first on a temporary SQLite file, then on the
PostgreSQL database of ``--database-url`` (default
postgresql+psycopg://postgres@127.0.0.1:5432/bench_registry, created when missing; every
benchmark DROPS AND REBUILDS ITS TABLES, so its name must begin with ``bench`` unless
``--any-database`` is given). Each script prints its own report as it goes and writes its
headline figures with ``--json`` (bench/headline.py). At the end this prints one table:
per figure, its value on SQLite and on PostgreSQL, its baseline measured in the same run, the
ratio (the figure's speed over the baseline's), p50 and p99, and rewrites the region of
docs/performance.md between ``<!-- bench-table:start -->`` and ``<!-- bench-table:end -->``
(adding it under the page's first paragraph if it is not there yet), with the date, the
commit, the machine and the database versions. Nothing else in that file is touched.

``--quick`` runs every benchmark at small sizes (a few minutes in all): for trying the
machinery, not for figures. The default sizes are the issue's: 100,000 eligibility questions
over 20,000 providers, 100,000 coding visits, 1,000,000 dated credentials for the alert scan,
100,000 provider rows imported, a provider with 50 licenses.

A benchmark that fails (exit status not 0, a check it makes fails, no JSON, a timeout) is
shown as failed on its row(s), with the reason under the table; the other rows are still
written, and this exits with status 1 at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_registry"
START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"
DATABASES = ("sqlite", "postgresql")
DB_LABEL = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@dataclass(frozen=True)
class Bench:
    name: str
    title: str
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    #: seconds before a full-size run is stopped (a quick run gets a quarter)
    timeout: int = 3600


BENCHES = (
    Bench("rules", "rules register", "rules_bench.py", (), ("--requests", "50")),
    Bench("eligibility", "batch eligibility", "eligibility.py", (), ("--providers", "2000", "--triples", "10000")),
    Bench("gate", "coding gate", "gate.py", (), ("--providers", "2000", "--visits", "10000", "--duration", "3", "--warmup", "1")),
    Bench("alerts", "expiry-alert scan", "alerts.py", (), ("--credentials", "50000"), timeout=5400),
    Bench("import", "providers import", "import_rate.py", (), ("--rows", "5000")),
    Bench("pages", "page loads (chromium)", "pages.py", (), ("--providers", "2000", "--loads", "10", "--warmup", "2", "--requests", "30")),
)


@dataclass
class Outcome:
    """One script on one database."""

    bench: Bench
    database: str
    command: list[str] = field(default_factory=list)
    returncode: int | None = None
    seconds: float = 0.0
    document: dict | None = None
    reason: str = ""  # why it failed, when it did

    @property
    def ok(self) -> bool:
        return not self.reason


# --- PostgreSQL ---------------------------------------------------------------------------------------
def prepare_postgres(url: str, any_database: bool) -> tuple[str | None, str]:
    """Create the database if it is missing; (server version, '') or (None, why not)."""
    from sqlalchemy import make_url

    parsed = make_url(url)
    name = parsed.database or ""
    if not any_database and not name.startswith("bench"):
        return None, f"refusing {name!r}: the benchmarks drop its tables; use a database whose name begins with 'bench' (or --any-database)"
    try:
        import psycopg
        from psycopg import sql

        params = {"host": parsed.host or "127.0.0.1", "port": parsed.port or 5432, "user": parsed.username or "postgres", "connect_timeout": 10}
        if parsed.password:
            params["password"] = parsed.password
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                print(f"created PostgreSQL database {name}", file=sys.stderr)
            version = conn.execute("SHOW server_version").fetchone()[0]
        return version, ""
    except Exception as exc:  # noqa: BLE001 - any failure to reach it is reported on every row
        return None, f"cannot prepare PostgreSQL database {name!r}: {type(exc).__name__}: {exc}".strip()


# --- running -----------------------------------------------------------------------------------------
def run_one(bench: Bench, database: str, url: str | None, args, json_dir: Path) -> Outcome:
    json_path = json_dir / f"{bench.name}-{database}.json"
    json_path.unlink(missing_ok=True)
    command = [sys.executable, str(ROOT / "bench" / bench.script), *(bench.quick if args.quick else bench.full), "--json", str(json_path)]
    if url:
        command[2:2] = ["--database-url", url]
    outcome = Outcome(bench, database, command)
    timeout = args.timeout or (bench.timeout // 4 if args.quick else bench.timeout)
    shown = " ".join(c if c != url else "$PG_URL" for c in command[1:])
    print(f"\n=== {bench.title} on {DB_LABEL[database]}: python {shown}", flush=True)
    tail: deque[str] = deque(maxlen=15)
    t0 = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace")

    def tee() -> None:  # the script's stderr reaches the terminal, its end is kept for the reason
        for line in process.stderr:
            sys.stderr.write(line)
            sys.stderr.flush()
            if line.strip() and "alembic.runtime.migration" not in line:
                tail.append(line.rstrip())

    reader = threading.Thread(target=tee, daemon=True)
    reader.start()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)  # gate.py and pages.py stop gunicorn and chromium on it
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        outcome.reason = f"stopped after {timeout} s (timeout)"
    except KeyboardInterrupt:  # the child got the Ctrl-C too, and unwinds
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        raise
    reader.join(timeout=5)
    outcome.seconds = time.perf_counter() - t0
    outcome.returncode = process.returncode
    if json_path.exists():
        try:
            outcome.document = json.loads(json_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            outcome.reason = outcome.reason or f"unreadable JSON: {exc}"
    if not outcome.reason:
        if outcome.document and outcome.document.get("problems"):
            outcome.reason = "; ".join(outcome.document["problems"])
        elif process.returncode != 0:
            last = next((line for line in reversed(tail) if not line.startswith(" ")), "")
            outcome.reason = f"exit status {process.returncode}" + (f": {last[:300]}" if last else "")
        elif outcome.document is None:
            outcome.reason = "wrote no JSON"
    if args.keep_json and json_path.exists():
        Path(args.keep_json).mkdir(parents=True, exist_ok=True)
        (Path(args.keep_json) / json_path.name).write_text(json_path.read_text(encoding="utf-8"), encoding="utf-8")
    status = "ok" if outcome.ok else f"FAILED ({outcome.reason})"
    print(f"=== {bench.title} on {DB_LABEL[database]}: {status}, {outcome.seconds:.0f} s", flush=True)
    return outcome


# --- the table ---------------------------------------------------------------------------------------
def number(value: float | None) -> str:
    if value is None:
        return "–"
    magnitude = abs(value)
    return f"{value:,.0f}" if magnitude >= 100 else f"{value:,.1f}" if magnitude >= 10 else f"{value:,.2f}"


def with_unit(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    short = {"ms mean load": "ms mean", "ms mean": "ms mean"}.get(unit, unit)
    return f"{number(value)} {short}"


def pair(a: str, b: str) -> str:
    return a if a == b == "–" else f"{a} / {b}"


def table_rows(outcomes: dict[tuple[str, str], Outcome], benches: list[Bench], databases: list[str]) -> tuple[list[list[str]], list[str]]:
    """The table's rows (cells) and the failure notes."""
    rows: list[list[str]] = []
    notes: list[str] = []
    for bench in benches:
        runs = {db: outcomes.get((bench.name, db)) for db in DATABASES}
        figures: dict[str, dict[str, dict]] = {}
        labels: dict[str, dict] = {}
        for db in DATABASES:
            run = runs[db]
            if run and run.document:
                for fig in run.document.get("figures", []):
                    labels.setdefault(fig["key"], fig)
                    figures.setdefault(fig["key"], {})[db] = fig
        for db in databases:
            run = runs[db]
            if run and not run.ok:
                notes.append(f"**{bench.title} on {DB_LABEL[db]} failed**: {run.reason}")
        if not labels:
            rows.append([bench.title, "(no figures: it did not finish, see below)", *[cell_failed(runs[db], db, databases) for db in DATABASES], "–", "–", "–", "–"])
            continue
        for key, first in labels.items():
            per_db = figures[key]
            values = []
            for db in DATABASES:
                fig, run = per_db.get(db), runs[db]
                if db not in databases:
                    values.append("not run")
                elif run is None or (not run.ok and fig is None):
                    values.append("**FAILED**")
                elif fig is None:
                    values.append("–")
                else:
                    values.append(with_unit(fig["value"], fig["unit"]) + ("" if run.ok else " (**FAILED**)"))
            unit = first["unit"]
            latency_unit = first.get("latency_unit") or "ms"

            def across(name: str, fmt, per_db=per_db) -> str:
                return pair(*(fmt(per_db[db][name]) if db in per_db else "–" for db in DATABASES))

            baseline = across("baseline", number)
            if baseline != "–":
                baseline += " " + {"ms mean load": "ms mean", "ms mean": "ms mean"}.get(unit, unit)
            ratio = across("ratio", lambda v: "–" if v is None else f"{v:.2f}" if v >= 0.1 else f"{v:.3f}" if v >= 0.01 else f"{v:.4f}")
            p50 = across("p50", number)
            p99 = across("p99", number)
            if p50 != "–":
                p50 += f" {latency_unit}"
            if p99 != "–":
                p99 += f" {latency_unit}"
            label = first["label"]
            if first.get("baseline_label"):
                label += f"; baseline: {first['baseline_label']}"
            if first.get("latency_of") and (p50 != "–" or p99 != "–"):
                label += f"; p50/p99 of {first['latency_of']}"
            rows.append([bench.title, label, *values, baseline, ratio, p50, p99])
    return rows, notes


def cell_failed(run: Outcome | None, db: str, databases: list[str]) -> str:
    if db not in databases:
        return "not run"
    return "**FAILED**" if run is None or not run.ok else "–"


HEADER = ["benchmark", "figure", "SQLite", "PostgreSQL", "baseline (SQLite / PostgreSQL)", "ratio (SQLite / PostgreSQL)", "p50 (SQLite / PostgreSQL)", "p99 (SQLite / PostgreSQL)"]
ALIGN = ["---", "---", "---:", "---:", "---:", "---:", "---:", "---:"]


def markdown(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join(ALIGN) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def plain(rows: list[list[str]]) -> str:
    """The same table for the terminal: columns padded, markdown emphasis removed."""
    cells = [HEADER] + [[c.replace("**", "") for c in row] for row in rows]
    widths = [min(max(len(r[i]) for r in cells), 70 if i == 1 else 200) for i in range(len(HEADER))]
    out = []
    for n, row in enumerate(cells):
        parts = []
        for i, cell in enumerate(row):
            if i == 1 and len(cell) > widths[1]:
                cell = cell[: widths[1] - 1] + "…"
            parts.append(cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i]))
        out.append("  ".join(parts))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


# --- the heading: when, what, where -------------------------------------------------------------------
def git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine() -> str:
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "")
    except OSError:
        pass
    memory = ""
    try:
        kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")))
        memory = f", {kib / 1024 / 1024:.0f} GB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    cores = os.cpu_count() or 1
    return f"{cores} cores{f' ({model})' if model else ''}{memory}, {platform.system()} {platform.release()}"


def versions(outcomes: dict[tuple[str, str], Outcome], pg_version: str | None) -> tuple[str, str, str]:
    import sqlite3

    sqlite_version, chromium = sqlite3.sqlite_version, ""
    for (_, db), run in outcomes.items():
        doc = run.document or {}
        if db == "sqlite" and doc.get("server_version"):
            sqlite_version = doc["server_version"]
        if db == "postgresql" and doc.get("server_version"):
            pg_version = doc["server_version"]
        chromium = chromium or (doc.get("params") or {}).get("chromium", "")
    return sqlite_version, pg_version or "unknown", chromium


def region(rows, notes, meta: dict) -> str:
    sizes = "the `--quick` sizes (for trying the machinery; not comparable with a full run)" if meta["quick"] else "the full sizes"
    lines = [
        START,
        "<!-- Written by bench/run_all.py (`make bench`); anything between these markers is replaced on the next run. -->",
        "",
        f"### Latest `make bench`{' (--quick)' if meta['quick'] else ''}",
        "",
        f"Measured {meta['date']} at commit {meta['commit']}, in {meta['minutes']:.0f} min, at {sizes}. "
        f"Machine: {meta['machine']}; load average {meta['load_start']:.2f} at the start, {meta['load_end']:.2f} at the end. "
        f"Python {meta['python']}; SQLite {meta['sqlite']}; PostgreSQL {meta['postgresql']} ({meta['pg_where']}); "
        f"chromium {meta['chromium'] or 'not run'}.",
        "",
        "Each figure and its baseline come from the same run of the same script. **ratio** is the figure's speed "
        "over its baseline's (rates: figure ÷ baseline; times: baseline ÷ figure), so 1 is as fast as the baseline "
        "and 0.25 four times slower. p50 and p99 are latencies of what the figure names. Each benchmark's own "
        "printed report (above it in `make bench`'s output) has the detail; the sections below explain them.",
        "",
        markdown(rows),
    ]
    if meta["wall"]:
        lines += ["", "Wall time of each script (SQLite / PostgreSQL): " + "; ".join(meta["wall"]) + "."]
    if notes:
        lines += ["", *[f"* {note}" for note in notes]]
    lines.append(END)
    return "\n".join(lines)


def write_region(doc: Path, text: str) -> None:
    """Replace the marked region, or add it under the first paragraph after the title."""
    current = doc.read_text(encoding="utf-8") if doc.exists() else "# Performance\n"
    if START in current and END in current and current.index(START) < current.index(END):
        before, rest = current.split(START, 1)
        after = rest.split(END, 1)[1]
        updated = before + text + after
    else:
        lines = current.splitlines(keepends=True)
        at = 0
        title = next((i for i, line in enumerate(lines) if line.startswith("# ")), None)
        if title is not None:
            at = title + 1
            while at < len(lines) and not lines[at].strip():
                at += 1
            while at < len(lines) and lines[at].strip():
                at += 1
        updated = "".join(lines[:at]) + ("\n" if at and lines[at - 1].strip() else "") + text + "\n" + ("\n" if at < len(lines) and lines[at].strip() else "") + "".join(lines[at:])
    partial = doc.with_name(doc.name + ".bench-partial")
    partial.write_text(updated, encoding="utf-8")
    partial.replace(doc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG), help=f"the PostgreSQL database (default {DEFAULT_PG}; created if missing; its tables are dropped)")
    parser.add_argument("--quick", action="store_true", help="small sizes, a few minutes in all: for development, not for figures")
    parser.add_argument("--only", default="", help=f"comma-separated benchmarks to run (of {', '.join(b.name for b in BENCHES)}); the others' rows are left out")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--doc", default=str(ROOT / "docs" / "performance.md"), help="the file whose marked region is rewritten")
    parser.add_argument("--no-doc", action="store_true", help="print the table only")
    parser.add_argument("--keep-json", default="", metavar="DIR", help="keep each script's JSON in DIR")
    parser.add_argument("--timeout", type=int, default=0, help="seconds before one script is stopped (default per benchmark: 60-90 min, a quarter with --quick)")
    parser.add_argument("--any-database", action="store_true", help="allow a PostgreSQL database whose name does not begin with 'bench'")
    args = parser.parse_args()

    wanted = [n for n in args.only.split(",") if n] or [b.name for b in BENCHES]
    unknown = set(wanted) - {b.name for b in BENCHES}
    databases = [d for d in args.databases.split(",") if d]
    if unknown or set(databases) - set(DATABASES) or not databases:
        parser.error(f"unknown benchmark or database: {sorted(unknown) or databases}")
    benches = [b for b in BENCHES if b.name in wanted]

    started_at = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    commit = git("rev-parse", "--short", "HEAD") or "unknown"  # what is measured: the tree at the start
    if git("status", "--porcelain", "--untracked-files=no"):
        commit += " (the working tree had uncommitted changes)"
    load_start = os.getloadavg()[0]
    pg_version, pg_problem = (None, "")
    if "postgresql" in databases:
        pg_version, pg_problem = prepare_postgres(args.database_url, args.any_database)
        if pg_problem:
            print(f"PostgreSQL: {pg_problem}; its rows will say so", file=sys.stderr)
    outcomes: dict[tuple[str, str], Outcome] = {}
    with tempfile.TemporaryDirectory(prefix="bench-json-") as json_dir:
        try:
            for bench in benches:
                for database in databases:
                    if database == "postgresql" and pg_problem:
                        outcomes[(bench.name, database)] = Outcome(bench, database, reason=pg_problem)
                        continue
                    url = args.database_url if database == "postgresql" else None
                    outcomes[(bench.name, database)] = run_one(bench, database, url, args, Path(json_dir))
        except KeyboardInterrupt:
            print("\ninterrupted: nothing written", file=sys.stderr)
            sys.exit(130)

    rows, notes = table_rows(outcomes, benches, databases)
    sqlite_version, pg_version, chromium = versions(outcomes, pg_version)
    from sqlalchemy import make_url

    pg = make_url(args.database_url)
    wall = [f"{b.title} " + " / ".join(f"{outcomes[(b.name, d)].seconds:.0f} s" if (b.name, d) in outcomes and outcomes[(b.name, d)].seconds else "–" for d in DATABASES) for b in benches]
    meta = {
        "quick": args.quick, "date": started_at.strftime("%Y-%m-%d %H:%M UTC"), "commit": commit,
        "minutes": (time.perf_counter() - t0) / 60, "machine": machine(), "load_start": load_start, "load_end": os.getloadavg()[0],
        "python": platform.python_version(), "sqlite": sqlite_version, "postgresql": pg_version,
        "pg_where": f"{pg.host}:{pg.port or 5432}/{pg.database}", "chromium": chromium, "wall": wall,
    }
    text = region(rows, notes, meta)
    print("\n" + "=" * 100)
    print(f"Needle Registry benchmarks{' (--quick)' if args.quick else ''}: {meta['date']}, commit {commit}; {meta['machine']}")
    print(f"Python {meta['python']}, SQLite {sqlite_version}, PostgreSQL {pg_version}, chromium {chromium or 'not run'}; {meta['minutes']:.1f} min")
    print("ratio = the figure's speed / its baseline's (same run); p50, p99 = latencies of what the figure names\n")
    print(plain(rows))
    if notes:
        print()
        print("\n".join(re.sub(r"\*\*", "", f"* {note}") for note in notes))
    if not args.no_doc:
        write_region(Path(args.doc), text)
        print(f"\nwrote the table to {Path(args.doc).relative_to(ROOT) if Path(args.doc).is_relative_to(ROOT) else args.doc}")
    failed = [o for o in outcomes.values() if not o.ok]
    if failed:
        print(f"\n{len(failed)} benchmark run(s) failed: " + ", ".join(f"{o.bench.name} on {DB_LABEL[o.database]}" for o in failed), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

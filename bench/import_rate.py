"""Benchmark of the providers CSV import: the real import path against a hand-written INSERT.

Usage: python bench/import_rate.py [--database-url URL] [--rows N] [--seed S] [--skip-reimport] [--json PATH]

Builds a throw-away database (a temporary SQLite file by default; with a PostgreSQL URL the
tables in that database are dropped and rebuilt), so never point it at real data. It writes a
providers CSV of N rows (default 100,000: valid, distinct NPIs, PT 70% / DC 30%, an email on
most rows, 3% inactive) to a temporary file, then times

(a) the import as ``flask providers import PATH`` runs it (registry/providers/cli.py):
    ``seed_reference_data``, ``csvio.read_csv`` (parse and validate every row),
    ``csvio.plan_import`` (compare with the stored providers), ``csvio.apply_import`` (each
    row checked by the same rules as ``services.create_provider``, then per 1,000 rows one
    INSERT and one ``audit.record_many`` extending the hash chain) and the commit, in one transaction, on an empty registry. Rows/s over the whole
    command; the write phase is also timed per 1,000 rows (through the importer's progress
    hook), giving p50 / p99;
(b) the baseline: the same file read with ``csv.reader`` and its rows sent by one hand-written
    ``INSERT INTO provider (...) VALUES (...)`` through the driver's ``executemany``, in one
    transaction, on an empty registry (rebuilt in between): no validation, no audit trail;
(c) re-importing the same file into the registry (a): every row unchanged, nothing written.

It checks that both leave exactly N providers, holding the same values (a digest of every
row), that (a) wrote one audit event per provider, and that (c) found every row unchanged.
Prints one table; nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import random
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bench import headline  # noqa: E402
from registry import create_app  # noqa: E402
from registry.audit.models import AuditEvent  # noqa: E402
from registry.db import utcnow  # noqa: E402
from registry.extensions import db  # noqa: E402
from registry.providers import csvio  # noqa: E402
from registry.providers.models import Provider  # noqa: E402
from registry.providers.npi import npi_check_digit  # noqa: E402
from registry.rules.services import Actor, seed_reference_data  # noqa: E402
from registry.scratch import database_version, rebuild_schema  # noqa: E402

#: rows between two timestamps of the write phase
STEP = 1_000
FIRST = ("Avery", "Blake", "Casey", "Drew", "Emery", "Finley", "Harper", "Jordan", "Kai", "Logan", "Morgan", "Quinn", "Reese", "Rowan", "Sage", "Taylor")
LAST = ("Nguyen", "Garcia", "Smith", "Johnson", "Okafor", "Kowalski", "Haddad", "Martinez", "Lee", "O'Brien", "Schmidt", "Patel", "Rossi", "Dubois", "Yamamoto", "Andersen")


def write_csv(path: Path, n: int, seed: int) -> None:
    """N provider rows in the import format, reproducible from ``seed``."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(csvio.PROVIDER_COLUMNS)
        for i, prefix in enumerate(rng.sample(range(100_000_000, 300_000_000), n), start=1):
            first_nine = str(prefix)
            first, last = rng.choice(FIRST), rng.choice(LAST)
            email = "" if rng.random() < 0.05 else f"{first}.{last}.{i}@example.org".lower().replace("'", "")
            writer.writerow([
                first_nine + str(npi_check_digit(first_nine)), f"{first} {last} {i:06d}",
                "PT" if rng.random() < 0.7 else "DC", email, "no" if rng.random() < 0.03 else "yes",
            ])


def fresh_registry(app) -> None:
    rebuild_schema(app)
    with app.app_context():
        seed_reference_data()
        db.session.commit()
        db.session.remove()


def providers_digest() -> tuple[int, str]:
    """How many providers, and a digest of their values (ids and times aside)."""
    h = hashlib.sha256()
    rows = db.session.execute(select(Provider.npi, Provider.name, Provider.profession_code, Provider.email, Provider.is_active).order_by(Provider.npi))
    n = 0
    for row in rows:
        h.update(f"{row.npi}\t{row.name}\t{row.profession_code}\t{row.email}\t{bool(row.is_active)}\n".encode())
        n += 1
    return n, h.hexdigest()[:16]


# --- (a) the real import -------------------------------------------------------------------------
def import_like_the_cli(path: Path) -> dict:
    """``flask providers import PATH`` without click: the same calls, in the same order."""
    stamps: list[float] = []

    def progress(iterable):
        for k, item in enumerate(iterable):
            if k % STEP == 0:
                stamps.append(time.perf_counter())
            yield item
        stamps.append(time.perf_counter())

    t0 = time.perf_counter()
    seed_reference_data()
    with path.open(encoding="utf-8-sig", newline="") as fh:
        plan = csvio.read_csv(fh)
    t1 = time.perf_counter()
    csvio.plan_import(plan)
    t2 = time.perf_counter()
    if not plan.ok:
        db.session.rollback()
        raise SystemExit(f"the generated file does not import: {plan.errors[:3]}")
    csvio.apply_import(plan, actor=Actor(id=None, label="cli:providers import (bench)"), progress=progress)
    t3 = time.perf_counter()
    db.session.commit()
    t4 = time.perf_counter()
    steps = [(b - a) * 1000 for a, b in pairwise(stamps)]
    full_steps = steps[:-1] if len(plan.added) % STEP else steps  # the last, partial step aside
    return {"read": t1 - t0, "plan": t2 - t1, "apply": t3 - t2, "commit": t4 - t3, "total": t4 - t0,
            "added": len(plan.added), "changed": len(plan.changed), "unchanged": len(plan.unchanged), "steps": full_steps or steps}


def reimport(path: Path) -> dict:
    t0 = time.perf_counter()
    seed_reference_data()
    with path.open(encoding="utf-8-sig", newline="") as fh:
        plan = csvio.read_csv(fh)
    csvio.plan_import(plan)
    if not plan.ok:
        db.session.rollback()
        raise SystemExit(f"the re-import failed: {plan.errors[:3]}")
    csvio.apply_import(plan, actor=Actor(id=None, label="cli:providers import (bench)"))
    db.session.commit()
    return {"total": time.perf_counter() - t0, "added": len(plan.added), "changed": len(plan.changed), "unchanged": len(plan.unchanged)}


# --- (b) the baseline ------------------------------------------------------------------------------
def hand_written_insert(path: Path) -> dict:
    """csv.reader + one executemany INSERT + commit, in one transaction."""
    postgres = db.engine.dialect.name == "postgresql"
    mark = "%s" if postgres else "?"
    sql = f"INSERT INTO provider (npi, name, profession_code, email, is_active, created_at, updated_at, version_id) VALUES ({', '.join([mark] * 8)})"
    now = utcnow()
    stamp = now if postgres else now.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")  # as UTCDateTime stores it
    with db.engine.connect() as conn:
        t0 = time.perf_counter()
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            next(reader)
            rows = [(npi, name, profession, email, active == "yes", stamp, stamp, 1) for npi, name, profession, email, active in reader]
        t1 = time.perf_counter()
        conn.exec_driver_sql(sql, rows)
        t2 = time.perf_counter()
        conn.commit()
        t3 = time.perf_counter()
    return {"read": t1 - t0, "insert": t2 - t1, "commit": t3 - t2, "total": t3 - t0, "rows": len(rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-reimport", action="store_true", help="skip (c), the re-import of the same file")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the headline figures to PATH as JSON (bench/headline.py)")
    args = parser.parse_args()
    started = time.perf_counter()
    tmp = tempfile.TemporaryDirectory()
    try:
        report(args, Path(tmp.name), started)
    finally:
        tmp.cleanup()


def report(args, tmpdir: Path, started: float) -> None:
    url = args.database_url or f"sqlite:///{tmpdir}/bench.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": False})
    csv_path = tmpdir / "providers.csv"
    t0 = time.perf_counter()
    write_csv(csv_path, args.rows, args.seed)
    generated = time.perf_counter() - t0
    problems: list[str] = []
    out: list[tuple[str, str]] = [("file", f"{args.rows:,} provider rows, {csv_path.stat().st_size / 1e6:.1f} MB (written in {generated:.1f} s)")]

    # (b) first: the baseline on an empty registry, then the registry is rebuilt for (a)
    fresh_registry(app)
    with app.app_context():
        backend, server = database_version()
        db.session.remove()  # its transaction would hold SQLite's write lock
        base = hand_written_insert(csv_path)
        base_count, base_digest = providers_digest()
        db.session.remove()
    base_rate = args.rows / base["total"]
    fresh_registry(app)
    with app.app_context():
        real = import_like_the_cli(csv_path)
        count, digest = providers_digest()
        audited = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "provider.create"))
        db.session.remove()
    rate = args.rows / real["total"]
    steps = real["steps"]
    p50, p99 = headline.percentile(steps, 0.50), headline.percentile(steps, 0.99)
    out.append(("(a) import as `flask providers import`", f"{rate:,.0f} rows/s ({real['total']:.2f} s): {real['added']:,} added, {real['changed']:,} changed, {real['unchanged']:,} unchanged"))
    out.append(("(a) read_csv: parse and validate", f"{real['read']:.2f} s ({real['read'] / real['total']:.0%})"))
    out.append(("(a) plan_import", f"{real['plan']:.2f} s ({real['plan'] / real['total']:.0%})"))
    out.append(("(a) apply_import: checks per row, batched INSERTs + record_many", f"{real['apply']:.2f} s ({real['apply'] / real['total']:.0%}); per {STEP:,} rows p50 {p50:,.0f} ms, p99 {p99:,.0f} ms"))
    out.append(("(a) commit", f"{real['commit']:.2f} s ({real['commit'] / real['total']:.0%})"))
    out.append(("(b) hand-written executemany INSERT", f"{base_rate:,.0f} rows/s ({base['total']:.2f} s: csv.reader {base['read']:.2f} s, INSERT {base['insert']:.2f} s, commit {base['commit']:.2f} s)"))
    out.append(("ratio (a)/(b)", f"{rate / base_rate:.3f}"))
    checks = [
        (count == args.rows, f"(a) left {count:,} providers, not {args.rows:,}"),
        (real["added"] == args.rows, f"(a) added {real['added']:,} rows, not {args.rows:,}"),
        (audited == args.rows, f"(a) wrote {audited:,} provider.create audit events, not {args.rows:,}"),
        (base_count == args.rows, f"(b) left {base_count:,} providers, not {args.rows:,}"),
        (digest == base_digest, f"(a) and (b) hold different values (digests {digest} and {base_digest})"),
    ]
    out.append(("check: providers after (a) / (b)", f"{count:,} / {base_count:,}; digest {digest} / {base_digest}; {audited:,} audit events"))
    figures = [headline.figure(
        "import.providers", f"providers CSV import, {args.rows:,} rows through csvio + services", rate, "rows/s",
        baseline=base_rate, baseline_label="hand-written executemany INSERT, one transaction",
        p50=p50, p99=p99, latency_of=f"{STEP:,} rows written (apply_import)",
    )]
    if not args.skip_reimport:
        with app.app_context():
            again = reimport(csv_path)
            count_again, digest_again = providers_digest()
            db.session.remove()
        again_rate = args.rows / again["total"]
        out.append(("(c) re-import, nothing changes", f"{again_rate:,.0f} rows/s ({again['total']:.2f} s): {again['unchanged']:,} unchanged, {again['added']:,} added, {again['changed']:,} changed"))
        checks.append((again["unchanged"] == args.rows and count_again == args.rows and digest_again == digest, "(c) the re-import changed something"))
        figures.append(headline.figure("import.reimport", f"re-import of the same {args.rows:,} rows, nothing changes", again_rate, "rows/s"))
    problems = [message for ok, message in checks if not ok]
    out.append(("checks", "all pass" if not problems else "FAILED: " + "; ".join(problems)))
    with app.app_context():
        db.engine.dispose()

    headline.print_report(f"providers import benchmark: {backend} {server}, seed {args.seed}", out, rule=90)
    headline.write(args.json, "import", backend, server, figures, problems=problems,
                   params={"rows": args.rows, "seed": args.seed}, seconds=time.perf_counter() - started)
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

"""Benchmark of batch eligibility: the engine against one hand-written SQL query.

Usage: python bench/eligibility.py [--database-url URL] [--providers N] [--triples T] [--seed S] [--repeat R] [--gc-freeze]
                                   [--json PATH]

Builds a throw-away database (a temporary SQLite file by default; with a PostgreSQL URL the
tables in that database are dropped and rebuilt), so never point it at real data. It imports
data/state_rules.csv, generates a reproducible population (N providers, 1-4 licenses in random
jurisdictions, some expired, suspended or ended; 0-4 training records; board registrations in
some licensed states) with Core bulk inserts, and T random (NPI, jurisdiction, date) triples,
most naming a jurisdiction where the provider holds a license. Then it times

(a) ``registry.eligibility.services.evaluate_batch`` over the triples in batches of 10,000
    (the API's maximum), each batch in a fresh session as a request would have, counting the
    SQL statements it issues;
(b) one hand-written SQL query (the same text on both databases) computing the
    *hours-and-license test* for the same triples (loaded first into a temporary table, timed
    separately): is a license of the provider's profession held in that jurisdiction on that
    date, is the rule in force ``permitted``, and do the training hours held that day reach
    the rule's minimum (if it states one)?

and checks that both give the same answer to that test for every triple (the engine passes it
when its decision gives none of the reasons in TEST_CODES; the app's default policy, silence
is not permission, applies). The engine decides much more (practical hours, supervised
sessions, completion window, years licensed, board registration, and every reason in words);
the test compared is only the part the query computes. Prints one table; nothing here asserts
a speed. --repeat R reports the quickest of R timings of each; --gc-freeze shows what the
garbage collector costs (see docs/performance.md). With ``--json PATH`` it also writes its
headline figures there (bench/headline.py), for bench/run_all.py; any disagreement between (a)
and (b) is then a failure (exit status 1).
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Column, Date, Integer, MetaData, String, Table, event, insert, text  # noqa: E402

from bench import headline  # noqa: E402
from registry import create_app  # noqa: E402
from registry.db import utcnow  # noqa: E402
from registry.eligibility import services as eligibility  # noqa: E402
from registry.extensions import db  # noqa: E402
from registry.providers.models import BoardRegistration, License, Provider, TrainingRecord  # noqa: E402
from registry.providers.npi import npi_check_digit  # noqa: E402
from registry.rules.reference import JURISDICTION_CODES  # noqa: E402
from registry.scratch import database_version, load_state_rules, rebuild_schema  # noqa: E402

BATCH = eligibility.MAX_BATCH
FIRST_DAY, LAST_DAY = date(2020, 1, 1), date(2026, 12, 31)
JURISDICTIONS = sorted(JURISDICTION_CODES)

#: Reason codes that fail the hours-and-license test. With the default policy (silence is not
#: permission) "the rule in force is permitted" is exactly "none of the first line is given".
RULE_NOT_PERMITTED = {"no_rule_on_record", "state_prohibits", "rule_unknown", "rule_unclear", "rule_silent", "rule_unrecognised"}
NO_LICENSE = {"no_license", "license_suspended", "license_revoked", "license_inactive", "license_ended", "license_expired", "license_not_yet_issued"}
HOURS_SHORT = {"training_hours_short"}
TEST_CODES = RULE_NOT_PERMITTED | NO_LICENSE | HOURS_SHORT

#: The hand-written query: the same text on SQLite and PostgreSQL (dates are ISO text on
#: SQLite and DATE on PostgreSQL, so the comparisons mean the same on both). Per triple: the
#: provider by NPI (unique index), the rule version in force (pair index), whether a license is
#: held (EXISTS over the provider's licenses) and the training hours held (SUM over the
#: provider's training records), both through the provider_id indexes.
HAND_WRITTEN = """
SELECT seq,
       CASE WHEN status = 'permitted' AND held = 1
             AND (min_hours IS NULL OR hours >= min_hours)
            THEN 1 ELSE 0 END AS ok,
       hours
FROM (
    SELECT t.seq, r.status, r.min_training_hours AS min_hours,
           CASE WHEN EXISTS (
               SELECT 1 FROM license l
               WHERE l.provider_id = p.id AND l.jurisdiction_code = t.jurisdiction
                 AND l.profession_code = p.profession_code AND l.status = 'active'
                 AND (l.issued_on IS NULL OR l.issued_on <= t.day)
                 AND (l.expires_on IS NULL OR l.expires_on >= t.day)
                 AND (l.ended_on IS NULL OR l.ended_on > t.day)
           ) THEN 1 ELSE 0 END AS held,
           (SELECT COALESCE(SUM(tr.total_hours), 0)
              FROM training_record tr
             WHERE tr.provider_id = p.id AND tr.completed_on <= t.day
               AND (tr.expires_on IS NULL OR tr.expires_on >= t.day)
               AND (tr.ended_on IS NULL OR tr.ended_on > t.day)) AS hours
    FROM bench_triple t
    JOIN provider p ON p.npi = t.npi
    LEFT JOIN rule_version r
           ON r.jurisdiction_code = t.jurisdiction AND r.profession_code = p.profession_code
          AND r.superseded_at IS NULL
          AND (r.effective_from IS NULL OR r.effective_from <= t.day)
          AND (r.effective_to IS NULL OR r.effective_to > t.day)
) x
ORDER BY seq
"""

triple_table = Table(
    "bench_triple", MetaData(),
    Column("seq", Integer, primary_key=True),
    Column("npi", String(10), nullable=False),
    Column("jurisdiction", String(2), nullable=False),
    Column("day", Date, nullable=False),
    prefixes=["TEMPORARY"],
)


# --- the population --------------------------------------------------------------------------
def day_between(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, (last - first).days))


def hours(rng: random.Random, low: float, high: float) -> Decimal:
    """A figure in [low, high] in half hours, as course hours are recorded."""
    return Decimal(rng.randint(int(low * 2), int(high * 2))) / 2


def generate(n_providers: int, seed: int) -> dict[str, list[dict]]:
    """Rows for provider, license, training_record, board_registration (provider ids 1..N)."""
    rng = random.Random(seed)
    now = utcnow()
    stamp = {"created_at": now, "updated_at": now, "version_id": 1}
    providers, licenses, trainings, registrations = [], [], [], []
    prefixes = rng.sample(range(100_000_000, 300_000_000), n_providers)
    for pid, prefix in enumerate(prefixes, start=1):
        first_nine = str(prefix)
        profession = "PT" if rng.random() < 0.7 else "DC"
        providers.append({
            "id": pid, "name": f"Provider {pid:06d}", "npi": first_nine + str(npi_check_digit(first_nine)),
            "profession_code": profession, "email": f"p{pid}@example.org", "is_active": rng.random() > 0.03,
            "user_id": None, **stamp,
        })
        for k, code in enumerate(rng.sample(JURISDICTIONS, rng.randint(1, 4))):
            issued = None if rng.random() < 0.02 else day_between(rng, date(1995, 1, 1), date(2025, 6, 30))
            base = issued or date(2015, 1, 1)
            roll = rng.random()
            if roll < 0.10:
                expires = None
            elif roll < 0.35:  # lapsed: expires within a few years of issue, often inside 2020-2026
                expires = day_between(rng, base, max(base, min(base + timedelta(days=6 * 365), date(2026, 6, 30))))
            else:
                expires = day_between(rng, max(base, date(2025, 1, 1)), date(2029, 12, 31))
            status = rng.choices(["active", "suspended", "inactive", "revoked"], [88, 6, 4, 2])[0]
            ended = day_between(rng, base, date(2026, 12, 31)) if rng.random() < 0.05 else None
            licenses.append({
                "provider_id": pid, "jurisdiction_code": code,
                "profession_code": profession if rng.random() > 0.02 else ("DC" if profession == "PT" else "PT"),
                "number": f"{code}-{pid}-{k}", "issued_on": issued, "expires_on": expires, "status": status,
                "is_compact_privilege": profession == "PT" and rng.random() < 0.1, "ended_on": ended, "end_reason": "",
                **stamp,
            })
            if rng.random() < 0.35:
                reg_issued = day_between(rng, max(base, date(2012, 1, 1)), date(2026, 6, 30))
                reg_expires = None if rng.random() < 0.3 else day_between(rng, reg_issued, min(reg_issued + timedelta(days=5 * 365), date(2030, 12, 31)))
                registrations.append({
                    "provider_id": pid, "jurisdiction_code": code, "number": f"R-{code}-{pid}-{k}",
                    "issued_on": reg_issued, "expires_on": reg_expires,
                    "status": "active" if rng.random() > 0.05 else "suspended", "ended_on": None, "end_reason": "",
                    **stamp,
                })
        for k in range(rng.choices([0, 1, 2, 3, 4], [15, 30, 30, 15, 10])[0]):
            completed = day_between(rng, date(2010, 1, 1), date(2026, 9, 30))
            total = hours(rng, 8, 120)
            trainings.append({
                "provider_id": pid, "course_title": f"Dry needling course {k + 1}", "sponsor": "Bench Institute",
                "approving_body": rng.choice(["APTA", "FSBPT", "State chapter", ""]), "completed_on": completed,
                "total_hours": total, "practical_hours": min(total, hours(rng, 0, float(total) * 0.8)),
                "supervised_sessions": rng.randint(5, 150) if rng.random() < 0.3 else 0,
                "expires_on": completed + timedelta(days=rng.randint(3, 8) * 365) if rng.random() < 0.2 else None,
                "ended_on": completed + timedelta(days=rng.randint(30, 2000)) if rng.random() < 0.03 else None,
                "end_reason": "", **stamp,
            })
    return {"provider": providers, "license": licenses, "training_record": trainings, "board_registration": registrations}


def load_population(population: dict[str, list[dict]]) -> None:
    """Core bulk INSERTs (executemany / insertmanyvalues), one commit."""
    for model in (Provider, License, TrainingRecord, BoardRegistration):
        rows = population[model.__tablename__]
        for start in range(0, len(rows), 5000):
            db.session.execute(insert(model.__table__), rows[start:start + 5000])
    if db.engine.dialect.name == "postgresql":  # ids were given: move the sequence past them
        db.session.execute(text("SELECT setval(pg_get_serial_sequence('provider', 'id'), (SELECT max(id) FROM provider))"))
    db.session.commit()
    with db.engine.begin() as conn:  # planner statistics, as a live database would have
        conn.exec_driver_sql("ANALYZE")


#: (npi, jurisdiction, day): plain tuples, which the garbage collector does not track
Triple = tuple[str, str, date]


def make_triples(population: dict[str, list[dict]], n: int, seed: int) -> list[Triple]:
    """85% name a jurisdiction where the provider holds a license (any status), 15% any."""
    rng = random.Random(seed + 1)
    npi_of = {p["id"]: p["npi"] for p in population["provider"]}
    licensed: dict[str, list[str]] = {}
    for lic in population["license"]:
        licensed.setdefault(npi_of[lic["provider_id"]], []).append(lic["jurisdiction_code"])
    npis = list(npi_of.values())
    items = []
    for _ in range(n):
        npi = rng.choice(npis)
        code = rng.choice(licensed[npi]) if rng.random() < 0.85 else rng.choice(JURISDICTIONS)
        items.append((npi, code, day_between(rng, FIRST_DAY, LAST_DAY)))
    return items


# --- (a) the engine ----------------------------------------------------------------------------
def run_engine(app, items: list[Triple]) -> dict:
    """Times each batch of 10,000 as the API would run it: its BatchItems are made just before
    (untimed: the request's parsing) and its results let go after, keeping only each triple's
    answer to the test (a bytearray) and the outcome counts. The benchmark's own data stays
    out of the garbage collector's way (100,000 BatchItems or results alive at once would slow
    every full collection and be charged to the engine, which a server never holds)."""
    statements: list[int] = []
    per_batch: list[int] = []
    seconds: list[float] = []
    passes = bytearray()
    outcomes: Counter = Counter()
    collecting = [0.0, 0.0]  # seconds in the garbage collector so far, start of the current pass
    in_engine = 0.0  # of which during evaluate_batch

    def count(*_args, **_kw):
        statements.append(1)

    def collector(phase, _info):
        if phase == "start":
            collecting[1] = time.perf_counter()
        else:
            collecting[0] += time.perf_counter() - collecting[1]

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", count)
        gc.callbacks.append(collector)
        try:
            for start in range(0, len(items), BATCH):
                batch = [eligibility.BatchItem(*triple) for triple in items[start:start + BATCH]]
                before, gc_before = len(statements), collecting[0]
                t0 = time.perf_counter()
                results = eligibility.evaluate_batch(batch)
                seconds.append(time.perf_counter() - t0)
                in_engine += collecting[0] - gc_before
                per_batch.append(len(statements) - before)
                passes.extend(engine_passes(r) for r in results)
                outcomes.update(r.decision.outcome if r.decision else "error" for r in results)
                del results, batch
                db.session.remove()  # a fresh session per batch, as each API request has
        finally:
            gc.callbacks.remove(collector)
            event.remove(db.engine, "before_cursor_execute", count)
    return {"passes": passes, "outcomes": outcomes, "seconds": seconds, "statements": len(statements), "per_batch": per_batch, "gc": in_engine}


# --- (b) the hand-written query -----------------------------------------------------------------
def run_query(app, items: list[Triple], sql: str) -> dict:
    with app.app_context(), db.engine.connect() as conn:
        t0 = time.perf_counter()
        triple_table.create(conn)
        rows = [{"seq": i, "npi": npi, "jurisdiction": code, "day": day} for i, (npi, code, day) in enumerate(items)]
        for start in range(0, len(rows), 10_000):
            conn.execute(insert(triple_table), rows[start:start + 10_000])
        conn.exec_driver_sql("ANALYZE bench_triple")
        load = time.perf_counter() - t0
        t0 = time.perf_counter()
        fetched = conn.execute(text(sql)).all()
        query = time.perf_counter() - t0
        triple_table.drop(conn)
        conn.commit()
    return {"rows": fetched, "load": load, "seconds": query}


# --- agreement ------------------------------------------------------------------------------------
def engine_passes(result: eligibility.BatchResult) -> bool:
    """The engine's answer to the hours-and-license test: no reason from TEST_CODES."""
    return result.decision is not None and not any(r.code in TEST_CODES for r in result.decision.reasons)


def agreement(passes: bytearray, rows) -> tuple[int, list[int]]:
    sql_ok = bytearray(len(passes))
    for row in rows:
        sql_ok[row.seq] = 1 if row.ok else 0
    mismatches = [seq for seq in range(len(passes)) if passes[seq] != sql_ok[seq]]
    return len(passes) - len(mismatches), mismatches


def describe_mismatches(app, items: list[Triple], mismatches: list[int], rows, limit: int = 10) -> list[str]:
    """The first mismatching triples, decided again (decisions are deterministic) to show why."""
    by_seq = {row.seq: row for row in rows}
    lines = [f"{len(mismatches)} MISMATCHES; the first {min(limit, len(mismatches))}:"]
    with app.app_context():
        results = eligibility.evaluate_batch([eligibility.BatchItem(*items[seq]) for seq in mismatches[:limit]])
    for seq, result in zip(mismatches[:limit], results, strict=True):
        codes = [r.code for r in result.decision.reasons] if result.decision else [result.error]
        rule = result.decision.rule if result.decision else None
        row = by_seq.get(seq)
        lines.append(
            f"  #{seq} {result.item.npi} {result.item.jurisdiction} {result.item.day}: engine {'pass' if engine_passes(result) else 'fail'} {codes}"
            f" rule={rule and (rule.version_id, rule.status, rule.min_training_hours)}; sql ok={row and row.ok} hours={row and row.hours}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--providers", type=int, default=20_000)
    parser.add_argument("--triples", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--gc-freeze", action="store_true", help="gc.freeze() the loaded app before timing, as a pre-forking server can, so full collections skip it")
    parser.add_argument("--repeat", type=int, default=1, help="time (a) and (b) this many times each and report the quickest of each (a shared machine is noisy)")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the headline figures to PATH as JSON (bench/headline.py); a disagreement then exits 1")
    args = parser.parse_args()
    started = time.perf_counter()
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{tmp.name}/bench.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": False})
    rebuild_schema(app)
    out: list[tuple[str, str]] = []

    with app.app_context():
        backend, server = database_version()
        rule_versions = load_state_rules()
        t0 = time.perf_counter()
        population = generate(args.providers, args.seed)
        generated = time.perf_counter() - t0
        t0 = time.perf_counter()
        load_population(population)
        loaded = time.perf_counter() - t0
        db.session.remove()
    sizes = {k: len(v) for k, v in population.items()}
    items = make_triples(population, args.triples, args.seed)
    npi_of = {p["id"]: p["npi"] for p in population["provider"]}
    licensed_in: dict[str, set[str]] = {}
    for lic in population["license"]:
        licensed_in.setdefault(npi_of[lic["provider_id"]], set()).add(lic["jurisdiction_code"])
    on_license = sum(1 for npi, code, _ in items if code in licensed_in[npi])
    del population, npi_of, licensed_in  # lives in the database now, as it would
    gc.collect()
    if args.gc_freeze:
        gc.freeze()
    out.append(("population", f"{sizes['provider']:,} providers, {sizes['license']:,} licenses, {sizes['training_record']:,} training records, {sizes['board_registration']:,} board registrations, {rule_versions} rule versions"))
    out.append(("generate (Python) + bulk insert", f"{generated:.2f} s + {loaded:.2f} s = {sum(sizes.values()) / loaded:,.0f} rows/s inserted"))

    out.append(("triples", f"{len(items):,} ({on_license / len(items):.0%} in a state where the provider holds a license), dated {FIRST_DAY}..{LAST_DAY}"))

    engine = min((run_engine(app, items) for _ in range(args.repeat)), key=lambda run: sum(run["seconds"]))
    total = sum(engine["seconds"])
    engine_rate = len(items) / total
    out.append(("(a) evaluate_batch", f"{engine_rate:,.0f} triples/s ({total:.2f} s); per 10k batch p50 {statistics.median(engine['seconds']) * 1000:,.0f} ms, max {max(engine['seconds']) * 1000:,.0f} ms"))
    out.append(("(a) of which garbage collection", f"{engine['gc']:.2f} s ({engine['gc'] / total:.0%})"))
    out.append(("(a) SQL statements", f"{engine['statements']} in all, per batch {sorted(set(engine['per_batch']))} (independent of the number of triples)"))

    query = min((run_query(app, items, HAND_WRITTEN) for _ in range(args.repeat)), key=lambda run: run["seconds"])
    query_rate = len(items) / query["seconds"]
    out.append(("(b) temp table load (not counted)", f"{query['load']:.2f} s"))
    out.append(("(b) hand-written query + fetch", f"{query_rate:,.0f} triples/s ({query['seconds']:.2f} s)"))
    out.append(("ratio (a)/(b)", f"{engine_rate / query_rate:.2f}"))

    same, mismatches = agreement(engine["passes"], query["rows"])
    outcomes = engine["outcomes"]
    passes = sum(engine["passes"])
    out.append(("agreement on the hours-and-license test", f"{same:,} / {len(items):,} triples ({passes:,} pass on both sides)" if not mismatches else f"{same:,} / {len(items):,}: {len(mismatches)} MISMATCHES"))
    out.append(("engine outcomes", ", ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items()))))

    with app.app_context():
        db.engine.dispose()
    repeat = (f", best of {args.repeat}" if args.repeat > 1 else "") + (", gc.freeze()" if args.gc_freeze else "")
    headline.print_report(f"eligibility benchmark: {backend} {server}, seed {args.seed}{repeat}", out, rule=90)
    if mismatches:
        print()
        print("\n".join(describe_mismatches(app, items, mismatches, query["rows"])))
    batch_ms = [s * 1000 for s in engine["seconds"]]
    figures = [headline.figure(
        "eligibility.batch", f"batch eligibility, {len(items):,} questions", engine_rate, "questions/s",
        baseline=query_rate, baseline_label="one hand-written SQL query + fetch", p50=headline.percentile(batch_ms, .5),
        p99=headline.percentile(batch_ms, .99), latency_of=f"a batch of {BATCH:,} (evaluate_batch)",
    )]
    problems = [f"{len(mismatches)} of {len(items):,} questions: the engine and the query disagree"] if mismatches else []
    headline.write(args.json, "eligibility", backend, server, figures, problems=problems, seconds=time.perf_counter() - started,
                   params={"providers": args.providers, "triples": args.triples, "seed": args.seed, "repeat": args.repeat, "gc_freeze": args.gc_freeze})
    tmp.cleanup()
    if mismatches and args.json:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

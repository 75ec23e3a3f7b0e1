"""Benchmark of the expiry-alert scan: find what is due on a day and fill the outbox.

Usage: python bench/alerts.py [--database-url URL] [--credentials N] [--as-of DATE] [--seed S] [--json PATH]

Builds a throw-away database (a temporary SQLite file by default; with a PostgreSQL URL the
tables in that database are dropped and rebuilt), so never point it at real data. It imports
data/state_rules.csv, creates a few manager accounts, and generates with Core bulk inserts a
reproducible population holding N *dated* credentials (default 1,000,000; about 300,000
providers): licenses in 1-4 jurisdictions (about 40% of the jurisdiction/profession pairs
renew on a fixed day of the year, the others on each licensee's own anniversary), board
registrations in some licensed states and dry-needling training records, with expiries spread
over 2020-2030; some suspended, ended or of inactive providers; a few providers without an
email (some reached through their account's address, some not at all). Undated credentials
(licenses without an expiry, most training records) are added on top, as a registry holds
them.

Then, for ``--as-of`` (default 2026-11-27), it times

(a) ``registry.alerts.services.find_due`` alone, and ``affected_states`` alone on what it found;
(b) the job's queueing step, ``services.queue_due(as_of, run_id=None)`` followed by a commit,
    on an empty outbox: every window due that day is queued (the worst case: a first run, or
    a run after a long outage), with its parts timed inside that same call (find_due,
    affected_states, rendering the messages, the outbox INSERT ... ON CONFLICT DO NOTHING,
    the managers' digests);
(c) the same again: it must queue nothing (the dedupe key), and the next day's run, which
    queues only the windows reached overnight (the daily steady state).

It shows that the scan goes through the ``expires_on`` index of each credential table: the
query plan of each credential query find_due actually sent (EXPLAIN QUERY PLAN on SQLite,
EXPLAIN on PostgreSQL), and how many rows lie in the scanned expiry range and how many rows
reached Python, against the table sizes. It checks that find_due found exactly the items the
generated data says are due. Mail goes to the file backend in a temporary directory, and
nothing sends it: the benchmark only queues (it counts the files there: none). Prints one
table, then the plans; nothing here asserts a speed. With ``--json PATH`` it also writes its
headline figures there (bench/headline.py), for bench/run_all.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, func, insert, select, text  # noqa: E402

from bench import headline  # noqa: E402
from registry import create_app  # noqa: E402
from registry.accounts.models import User  # noqa: E402
from registry.alerts import services  # noqa: E402
from registry.alerts.models import OutboxMessage  # noqa: E402
from registry.alerts.windows import Windows  # noqa: E402
from registry.db import utcnow  # noqa: E402
from registry.extensions import db  # noqa: E402
from registry.providers.models import CREDENTIAL_MODELS, Provider  # noqa: E402
from registry.providers.npi import npi_check_digit  # noqa: E402
from registry.rules.reference import JURISDICTION_CODES  # noqa: E402
from registry.scratch import database_version, load_state_rules, rebuild_schema  # noqa: E402

JURISDICTIONS = sorted(JURISDICTION_CODES)
FIRST_EXPIRY, LAST_EXPIRY = date(2020, 1, 1), date(2030, 12, 31)
EXPIRY_SPAN = (LAST_EXPIRY - FIRST_EXPIRY).days + 1
#: days of the year on which a board renews all its licenses (the other pairs: any day)
FIXED_RENEWALS = ((12, 31), (1, 31), (6, 30), (3, 31), (9, 30), (2, 28), (10, 31))
MANAGERS = ("manager1@example.org", "manager2@example.org", "manager3@example.org")
#: providers generated (and inserted) at a time
CHUNK = 10_000
#: rows per INSERT executemany
ROWS_PER_INSERT = 5_000
TABLES = {kind: model.__tablename__ for kind, model in CREDENTIAL_MODELS.items()}


# --- the population ------------------------------------------------------------------------------
@dataclass
class Population:
    """What was generated, and what find_due should find in it."""

    providers: int = 0
    users: int = 0  # clinician accounts (providers without an email of their own are written to there)
    no_address: int = 0  # providers with neither an email nor an account
    rows: Counter = field(default_factory=Counter)  # by table
    dated: Counter = field(default_factory=Counter)  # by table
    expected_due: Counter = field(default_factory=Counter)  # by kind: held, of an active provider, a window due on as_of
    generate_s: float = 0.0
    insert_s: float = 0.0


def renewal_schemes(rng: random.Random) -> dict[tuple[str, str], tuple[tuple[int, int], int | None]]:
    """About 40% of (jurisdiction, profession) pairs renew on a fixed day: every year, or
    every other year (even or odd); the rest on each license's own anniversary."""
    schemes = {}
    for code in JURISDICTIONS:
        for profession in ("PT", "DC"):
            if rng.random() < 0.4:
                schemes[(code, profession)] = (rng.choice(FIXED_RENEWALS), rng.choice((None, 0, 1)))
    return schemes


def any_expiry(rng: random.Random) -> date:
    return date.fromordinal(FIRST_EXPIRY.toordinal() + rng.randrange(EXPIRY_SPAN))


def license_expiry(rng: random.Random, scheme) -> date:
    if scheme is None:
        return any_expiry(rng)
    (month, day), parity = scheme
    year = rng.randint(FIRST_EXPIRY.year, LAST_EXPIRY.year)
    if parity is not None and year % 2 != parity:
        year += 1 if year < LAST_EXPIRY.year else -1
    return date(year, month, day)


def years_before(day: date, years: int) -> date:
    return date(day.year - years, day.month, 28 if (day.month, day.day) == (2, 29) else day.day)


def hours(rng: random.Random, low: float, high: float) -> Decimal:
    return Decimal(rng.randint(int(low * 2), int(high * 2))) / 2


def generate(n_dated: int, seed: int, first_user_id: int):
    """Yield, a chunk of CHUNK providers at a time, rows for user_account, provider, license,
    training_record and board_registration, until the chunk that brings the dated
    credentials to exactly ``n_dated`` (provider ids from 1, user ids from ``first_user_id``)."""
    rng = random.Random(seed)
    schemes = renewal_schemes(rng)
    now = utcnow()
    stamp = {"created_at": now, "updated_at": now, "version_id": 1}
    dated = 0
    pid, uid = 0, first_user_id - 1
    while dated < n_dated:
        chunk = {"user_account": [], "provider": [], "license": [], "training_record": [], "board_registration": []}
        for _ in range(CHUNK):
            if dated >= n_dated:
                break
            pid += 1
            profession = "PT" if rng.random() < 0.7 else "DC"
            roll = rng.random()
            email, user_id = f"p{pid}@example.org", None
            if roll < 0.03:  # no email of their own: written to at their account's address
                uid += 1
                user_id, email = uid, ""
                chunk["user_account"].append({"id": uid, "email": f"clinician{pid}@example.org", "password_hash": "!bench: no login", "role": "clinician", "is_enabled": True, "created_at": now})
            elif roll < 0.04:  # no address at all: listed for the managers only
                email = ""
            first_nine = str(100_000_000 + pid)
            chunk["provider"].append({
                "id": pid, "name": f"Provider {pid:06d}", "npi": first_nine + str(npi_check_digit(first_nine)),
                "profession_code": profession, "email": email, "is_active": rng.random() > 0.03, "user_id": user_id, **stamp,
            })
            states = rng.sample(JURISDICTIONS, rng.choices((1, 2, 3, 4), (45, 30, 15, 10))[0])
            for k, code in enumerate(states):
                if dated >= n_dated:
                    break
                lic_profession = profession if rng.random() > 0.02 else ("DC" if profession == "PT" else "PT")
                expires = None if rng.random() < 0.03 else license_expiry(rng, schemes.get((code, lic_profession)))
                dated += expires is not None
                issued = None if rng.random() < 0.02 else years_before(expires or date(2026, 1, 1), rng.randint(1, 25))
                status = rng.choices(("active", "suspended", "inactive", "revoked"), (90, 4, 4, 2))[0]
                ended = issued + timedelta(days=rng.randint(0, 3000)) if issued and rng.random() < 0.04 else None
                chunk["license"].append({
                    "provider_id": pid, "jurisdiction_code": code, "profession_code": lic_profession,
                    "number": f"{code}-{pid}-{k}", "issued_on": issued, "expires_on": expires, "status": status,
                    "is_compact_privilege": profession == "PT" and rng.random() < 0.1, "ended_on": ended, "end_reason": "", **stamp,
                })
                if rng.random() < 0.3 and dated < n_dated:
                    reg_expires = None if rng.random() < 0.15 else any_expiry(rng)
                    dated += reg_expires is not None
                    chunk["board_registration"].append({
                        "provider_id": pid, "jurisdiction_code": code, "number": f"R-{code}-{pid}-{k}",
                        "issued_on": years_before(reg_expires or date(2026, 1, 1), rng.randint(1, 5)), "expires_on": reg_expires,
                        "status": "active" if rng.random() > 0.05 else "suspended",
                        "ended_on": None if rng.random() > 0.02 else any_expiry(rng), "end_reason": "", **stamp,
                    })
            for k in range(rng.choices((0, 1, 2, 3, 4), (10, 30, 30, 20, 10))[0]):
                if dated >= n_dated:
                    break
                expires = any_expiry(rng) if rng.random() < 0.55 else None
                dated += expires is not None
                completed = years_before(expires, rng.randint(2, 6)) if expires else date.fromordinal(date(2010, 1, 1).toordinal() + rng.randrange(6100))
                total = hours(rng, 8, 120)
                chunk["training_record"].append({
                    "provider_id": pid, "course_title": f"Dry needling course {k + 1}", "sponsor": "Bench Institute",
                    "approving_body": rng.choice(("APTA", "FSBPT", "State chapter", "")), "completed_on": completed,
                    "total_hours": total, "practical_hours": min(total, hours(rng, 0, float(total) * 0.8)),
                    "supervised_sessions": rng.randint(5, 150) if rng.random() < 0.3 else 0,
                    "expires_on": expires, "ended_on": completed + timedelta(days=rng.randint(30, 2000)) if rng.random() < 0.02 else None,
                    "end_reason": "", **stamp,
                })
        yield chunk


def count_expected(chunk: dict[str, list[dict]], windows: Windows, as_of: date, population: Population) -> None:
    """What find_due should find, worked out from the generated rows alone: every credential
    held (not ended; active, for those with a status) of an active provider with a window due."""
    active = {p["id"] for p in chunk["provider"] if p["is_active"]}
    for kind, table in TABLES.items():
        for row in chunk[table]:
            expires = row["expires_on"]
            if expires is None:
                continue
            population.dated[table] += 1
            if row["ended_on"] is None and row.get("status", "active") == "active" and row["provider_id"] in active and windows.due(expires, as_of) is not None:
                population.expected_due[kind] += 1


def load(n_dated: int, seed: int, windows: Windows, as_of: date) -> Population:
    """Generate and insert chunk by chunk (Core executemany), committing each, with a progress line."""
    population = Population()
    db.session.execute(insert(User.__table__), [
        {"id": i, "email": email, "password_hash": "!bench: no login", "role": "manager", "is_enabled": True, "created_at": utcnow()}
        for i, email in enumerate(MANAGERS, start=1)
    ])
    chunks = generate(n_dated, seed, first_user_id=len(MANAGERS) + 1)
    started = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        chunk = next(chunks, None)
        population.generate_s += time.perf_counter() - t0
        if chunk is None:
            break
        t0 = time.perf_counter()
        for table in ("user_account", "provider", "license", "training_record", "board_registration"):
            rows = chunk[table]
            target = db.metadata.tables[table]
            for start in range(0, len(rows), ROWS_PER_INSERT):
                db.session.execute(insert(target), rows[start:start + ROWS_PER_INSERT])
            population.rows[table] += len(rows)
        db.session.commit()
        population.insert_s += time.perf_counter() - t0
        population.providers += len(chunk["provider"])
        population.users += len(chunk["user_account"])
        population.no_address += sum(1 for p in chunk["provider"] if not p["email"] and p["user_id"] is None)
        count_expected(chunk, windows, as_of, population)
        done = sum(population.dated.values())
        elapsed = time.perf_counter() - started
        print(f"\r  {done:,} / {n_dated:,} dated credentials, {population.providers:,} providers ({elapsed:.0f} s)", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    t0 = time.perf_counter()
    if db.engine.dialect.name == "postgresql":  # ids were given: move the sequences past them
        for table in ("provider", "user_account"):
            db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    db.session.commit()
    with db.engine.begin() as conn:  # planner statistics, as a live database would have
        conn.exec_driver_sql("ANALYZE")
    population.insert_s += time.perf_counter() - t0
    return population


# --- measuring ----------------------------------------------------------------------------------
class Statements:
    """Counts the SQL statements sent, and keeps those find_due sends for the query plans."""

    def __init__(self) -> None:
        self.count = 0
        self.keep = False
        self.kept: list[tuple[str, object]] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.count += 1
        if self.keep:
            self.kept.append((statement, parameters))


@contextmanager
def counting(statements: Statements, *, keep: bool = False):
    statements.keep, statements.kept = keep, []
    event.listen(db.engine, "before_cursor_execute", statements)
    before = statements.count
    try:
        yield lambda: statements.count - before
    finally:
        event.remove(db.engine, "before_cursor_execute", statements)
        statements.keep = False


#: the steps of queue_due timed inside it (module attributes it calls through)
PARTS = ("find_due", "affected_states", "expiry_message", "_insert_ignoring_duplicates", "_digests")


@contextmanager
def timed_parts(seconds: Counter, calls: Counter):
    """Wrap queue_due's steps in timers for the span of one call. The first outbox INSERT is
    the clinicians' messages, the second the managers' digests."""
    originals = {name: getattr(services, name) for name in PARTS}

    def wrap(name, fn):
        def timed(*args, **kwargs):
            label = name
            if name == "_insert_ignoring_duplicates":
                label = "insert messages" if calls["insert messages"] == 0 else "insert digests"
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[label] += time.perf_counter() - t0
                calls[label] += 1
        return timed

    for name, fn in originals.items():
        setattr(services, name, wrap(name, fn))
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(services, name, fn)


@dataclass
class Run:
    label: str
    as_of: date
    result: services.QueueResult
    queue_s: float
    commit_s: float
    statements: int
    parts: Counter
    calls: Counter

    @property
    def total_s(self) -> float:
        return self.queue_s + self.commit_s


def queue_run(label: str, as_of: date, statements: Statements) -> Run:
    """queue_due(as_of, run_id=None) and a commit, as the job does, in a fresh session."""
    seconds, calls = Counter(), Counter()
    with counting(statements) as sent, timed_parts(seconds, calls):
        t0 = time.perf_counter()
        result = services.queue_due(as_of, run_id=None)
        t1 = time.perf_counter()
        db.session.commit()
        t2 = time.perf_counter()
        n = sent()
    db.session.remove()
    return Run(label, as_of, result, t1 - t0, t2 - t1, n, seconds, calls)


def describe_run(run: Run) -> list[tuple[str, str]]:
    r = run.result
    rest = run.queue_s - sum(run.parts.values())
    out = [
        (f"{run.label}: queue_due + commit", f"{run.total_s:.2f} s ({run.queue_s:.2f} + {run.commit_s:.2f}), {run.statements} SQL statements; "
         f"due {r.due:,}, queued {r.queued:,}, already queued {r.already:,}, no email {r.no_email:,}, digests {r.digests}"),
    ]
    if r.due:
        out.append(("  of which find_due", f"{run.parts['find_due']:.2f} s"))
    if run.calls["affected_states"]:
        out.append(("  of which affected_states", f"{run.parts['affected_states']:.2f} s"))
    if run.calls["expiry_message"]:
        n = run.calls["expiry_message"]
        out.append(("  of which rendering the messages", f"{run.parts['expiry_message']:.2f} s ({n:,} messages, {run.parts['expiry_message'] / n * 1e6:,.0f} us each)"))
    if run.calls["insert messages"]:
        out.append(("  of which the outbox INSERT (messages)", f"{run.parts['insert messages']:.2f} s"))
    if run.calls["_digests"]:
        out.append(("  of which the digests: render + INSERT", f"{run.parts['_digests']:.2f} s + {run.parts['insert digests']:.2f} s"))
    if r.due:
        out.append(("  rest (dedupe look-up, building rows)", f"{rest:.2f} s"))
    return out


def scan_figures(as_of: date, windows: Windows, kept: list[tuple[str, object]]) -> tuple[list[tuple[str, str]], list[str], int, int]:
    """Per credential table: its rows, the rows whose expiry lies in the scanned range (what
    the index range scan walks), and the rows the query sent back to Python; and the plan of
    the query find_due sent for that table."""
    first, last = windows.scan_range(as_of)
    postgres = db.engine.dialect.name == "postgresql"
    out, plans, reached, table_rows = [], [], 0, 0
    with db.engine.connect() as conn:
        for kind, model in CREDENTIAL_MODELS.items():
            table = model.__table__
            matching = [(sql, params) for sql, params in kept if re.search(rf"\bFROM {table.name}\b", sql)]
            if len(matching) != 1:
                raise SystemExit(f"expected one find_due query over {table.name}, saw {len(matching)}")
            sql, params = matching[0]
            size = conn.execute(select(func.count()).select_from(table)).scalar()
            in_range = conn.execute(select(func.count()).where(table.c.expires_on.between(first, last))).scalar()
            returned = conn.exec_driver_sql(f"SELECT count(*) FROM ({sql}) AS scanned", params).scalar()
            reached += returned
            table_rows += size
            out.append((f"  {table.name}", f"{size:,} rows; expiry in range {in_range:,} ({in_range / size:.1%}); returned to Python {returned:,}"))
            prefix = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
            plan = conn.exec_driver_sql(prefix + sql, params).all()
            plans.append(f"-- {kind} ({table.name}): {prefix.strip()} of the query find_due sent")
            if postgres:
                plans.extend(f"   {line}" for (line,) in plan)
                if any("Seq Scan on provider" in line for (line,) in plan):
                    providers = conn.execute(select(func.count()).select_from(Provider.__table__)).scalar()
                    plans.append(f"   (the planner hashes the credential rows and reads provider whole, {providers:,} rows, to join them)")
            else:
                depth = {0: 0}
                for node, parent, _unused, detail in plan:
                    depth[node] = depth.get(parent, 0) + 1
                    plans.append(f"   {'  ' * (depth[node] - 1)}{detail}")
        plans.append(f"-- the statement (for {TABLES['license']}; the other two differ only in table and columns):")
        plans.append("   " + " ".join(next(sql for sql, _ in kept if re.search(r"\bFROM license\b", sql)).split()))
    return out, plans, reached, table_rows


def outbox_fingerprint() -> tuple[Counter, str]:
    """The outbox by kind, and a digest of its content apart from ids, times and the digests'
    per-run keys: the same data and code give the same digest on either database."""
    h = hashlib.sha256()
    o = OutboxMessage.__table__.c
    kinds = Counter(dict(db.session.execute(select(o.kind, func.count()).group_by(o.kind)).all()))
    rows = db.session.execute(
        select(o.dedupe_key, o.kind, o.recipient, o.subject, o.body_text, o.body_html, o.message_id, o.status, o.provider_id, o.details, o.last_error)
        .where(o.kind != "digest").order_by(o.dedupe_key)
    )
    for row in rows:
        h.update(json.dumps([*row[:9], row.details, row.last_error], sort_keys=True, default=str).encode())
    for row in db.session.execute(select(o.recipient, o.subject, o.body_text, o.body_html).where(o.kind == "digest").order_by(o.recipient, o.subject, o.body_text)):
        h.update(json.dumps(list(row)).encode())
    return kinds, h.hexdigest()[:16]


def items_fingerprint(items: list[services.DueItem]) -> str:
    h = hashlib.sha256()
    for i in items:
        h.update(f"{i.kind}:{i.credential_id}:{i.window}:{i.email}:{i.what}:{','.join(i.states)}\n".encode())
    return h.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--credentials", type=int, default=1_000_000, help="dated credentials to generate (undated ones come on top)")
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 27))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the headline figures to PATH as JSON (bench/headline.py)")
    args = parser.parse_args()
    started = time.perf_counter()
    tmp = tempfile.TemporaryDirectory()
    mail_dir = Path(tmp.name) / "mail"
    mail_dir.mkdir()
    os.environ["MAIL_BACKEND"], os.environ["MAIL_FILE_DIR"] = "file", str(mail_dir)
    url = args.database_url or f"sqlite:///{tmp.name}/bench.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": False, "MAIL_BACKEND": "file", "MAIL_FILE_DIR": str(mail_dir)})
    rebuild_schema(app)
    as_of = args.as_of
    out: list[tuple[str, str]] = []
    statements = Statements()

    with app.app_context():
        backend, server = database_version()
        rule_versions = load_state_rules()
        windows = services.windows_from_config()
        population = load(args.credentials, args.seed, windows, as_of)
        db.session.remove()
        first, last = windows.scan_range(as_of)
        rows = population.rows
        total_rows = sum(rows[t] for t in TABLES.values())
        dated = sum(population.dated.values())
        out.append(("population", f"{population.providers:,} providers ({population.users:,} reached through their account's address, {population.no_address:,} with no address), "
                                  f"{len(MANAGERS)} managers, {rule_versions} rule versions"))
        out.append(("credentials", ", ".join(f"{rows[t]:,} {t} ({population.dated[t]:,} dated)" for t in TABLES.values()) + f": {dated:,} dated of {total_rows:,}"))
        inserted = sum(rows.values()) + len(MANAGERS)
        out.append(("generate (Python) + bulk insert", f"{population.generate_s:.2f} s + {population.insert_s:.2f} s = {inserted / population.insert_s:,.0f} rows/s inserted (ANALYZE included)"))
        out.append(("as of, windows, scanned expiry range", f"{as_of}; {', '.join(f'{-o}' if o < 0 else f'+{o}' for o in windows.offsets)} days (+{windows.catch_up_days} catch-up); {first}..{last}"))

        # (a) find_due alone, then affected_states alone on what it found
        with counting(statements, keep=True) as sent:
            t0 = time.perf_counter()
            items = services.find_due(as_of, windows)
            find_s = time.perf_counter() - t0
            find_n = sent()
        kept = statements.kept
        found = Counter(i.kind for i in items)
        with counting(statements) as sent:
            t0 = time.perf_counter()
            services.affected_states(items)
            affected_s = time.perf_counter() - t0
            affected_n = sent()
        with_states = sum(1 for i in items if i.states)
        fingerprint = items_fingerprint(items)
        db.session.remove()
        scan, plans, reached, table_rows = scan_figures(as_of, windows, kept)
        out.append(("scan: credential tables", ""))
        out.extend(scan)
        out.append(("  rows that reached Python", f"{reached:,} of {table_rows:,} ({reached / table_rows:.2%}); nothing loops over the tables"))
        expected = population.expected_due
        agree = found == expected
        out.append(("due: find_due vs the generated data", ", ".join(f"{k} {found[k]:,}" for k in TABLES) + f": {sum(found.values()):,} "
                    + ("= expected" if agree else f"!= expected {dict(expected)} MISMATCH")))
        out.append(("(a) find_due alone", f"{find_s:.2f} s, {find_n} SQL statements, {len(items):,} items"))
        out.append(("(a) affected_states alone", f"{affected_s:.2f} s, {affected_n} SQL statements; {with_states:,} items end eligibility somewhere; items digest {fingerprint}"))
        del items

        # (b) the first run on an empty outbox, (c) the same again and the next day
        first_run = queue_run("(b) run 1", as_of, statements)
        kinds, outbox_digest = outbox_fingerprint()
        db.session.remove()
        second_run = queue_run("(c) run 2, same day", as_of, statements)
        kinds_again, _ = outbox_fingerprint()
        db.session.remove()
        next_day = queue_run(f"(c) next day ({as_of + timedelta(days=1)})", as_of + timedelta(days=1), statements)
        for run in (first_run, second_run, next_day):
            out.extend(describe_run(run))
        deduped = second_run.result.queued == 0 and second_run.result.no_email == 0 and second_run.result.digests == 0 and kinds_again == kinds
        out.append(("dedupe: run 2 queued nothing", "yes" if deduped else "NO: THE SECOND RUN QUEUED AGAIN"))
        out.append(("outbox after run 1", ", ".join(f"{k} {v:,}" for k, v in sorted(kinds.items())) + f"; content digest {outbox_digest}"))
        mail_files = sum(1 for _ in mail_dir.rglob("*") if _.is_file())
        out.append(("mail sent", f"none ({mail_files} files in the file backend's directory; the benchmark only queues)" if mail_files == 0 else f"{mail_files} FILES WRITTEN"))
        db.session.remove()
        db.engine.dispose()

    headline.print_report(f"expiry-alert benchmark: {backend} {server}, seed {args.seed}", out, rule=100)
    print("\nQuery plans of the credential scan:")
    print("\n".join(plans))
    tmp.cleanup()
    run1 = first_run.result
    figures = [
        headline.figure("alerts.run1", f"alert scan run 1 over {dated:,} dated credentials: queue {run1.queued:,} messages + commit", first_run.total_s, "s",
                        higher_is_better=False, note=f"{run1.queued / first_run.total_s:,.0f} messages queued/s; find_due alone {find_s:.2f} s"),
        headline.figure("alerts.run2", "alert scan run 2, same day: nothing to queue (dedupe)", second_run.total_s, "s", higher_is_better=False),
        headline.figure("alerts.nextday", f"alert scan, next day: {next_day.result.queued:,} newly due queued", next_day.total_s, "s", higher_is_better=False),
    ]
    problems = [message for ok, message in (
        (agree, f"find_due found {dict(found)}, the generated data says {dict(expected)}"),
        (deduped, "the second run queued again"),
        (mail_files == 0, f"{mail_files} mail files written"),
    ) if not ok]
    headline.write(args.json, "alerts", backend, server, figures, problems=problems, seconds=time.perf_counter() - started,
                   params={"credentials": args.credentials, "as_of": args.as_of.isoformat(), "seed": args.seed})
    if not (agree and deduped and mail_files == 0):
        raise SystemExit(1)


if __name__ == "__main__":
    main()

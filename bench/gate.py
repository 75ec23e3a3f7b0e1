"""Benchmark of the coding gate (20560/20561): the batch service, then the HTTP endpoint.

Usage: python bench/gate.py [--database-url URL] [--providers N] [--visits V] [--seed S]
                            [--duration SEC] [--warmup SEC] [--clients C] [--client-processes P]
                            [--skip-http] [--skip-batch] [--json PATH]

Builds a throw-away database (a temporary SQLite file by default; with a PostgreSQL URL the
tables in that database are dropped and rebuilt), so never point it at real data. It imports
data/state_rules.csv and the population of bench/eligibility.py (N providers with licenses,
training records and board registrations, from the same seed), then:

(1) Batch: V generated visits (65% by a provider in a state where they were eligible in
    mid-2025, 23% in another state where they hold a license, 12% anywhere; 1-5 muscles with
    sides; the right code for the muscle count, sometimes the wrong one, sometimes two units;
    sometimes 97110, 97140, an E/M with or without modifier 25, a trigger-point injection or
    acupuncture on the same visit; Medicare, Medicaid, commercial payers by name (Aetna, Cigna,
    BCBS...), workers' compensation, self-pay; consent mostly on file; a few unknown NPIs and
    malformed diagnoses) go through ``services.check_visits(..., channel="api_batch")`` in
    batches of 10,000 (``services.MAX_VISITS``), each in a fresh session and committed, as a
    batch request would be; the SQL statements of each batch are counted. The time spent in
    ``evaluate_batch`` inside it and in the record's INSERT statements are taken apart, and
    the pure gate (``gate.check`` over the same visits with their decisions worked out
    beforehand) is timed on its own, so the split between eligibility, gate and record shows.
(2) HTTP: the app (bench/gate_wsgi.py: ``create_app()`` plus ``GET /bench/hello``) runs under
    gunicorn, 2 sync workers, on a free 127.0.0.1 port, against the same database. A biller
    account signs in C times (GET /login for the CSRF token, POST /login, then the token of the
    ``csrf-token`` meta tag of a page for ``X-CSRFToken``). C concurrent clients drive, for
    ``--duration`` seconds after ``--warmup`` seconds, (a) the hello-world endpoint (without a
    session cookie, so that it stays the framework's floor), then (b) ``POST
    /api/v1/coding/check``, each client with its own session, with single visits (cycling
    through 400 pre-generated ones). Every coding check writes its record and commits: that is
    part of what is measured. Any answer other than 200 counts as an error. The app's rate
    limits are raised out of reach for the run (RATE_LIMITS): one account at this pace would be
    refused, but the limiter still counts every request.

Clients are threads of this process (or of ``--client-processes`` processes), each reusing one
``http.client`` connection. gunicorn's sync worker closes the connection after every answer (it
has no keep-alive), so each request opens a new loopback TCP connection. Client and server
share the machine's cores; the CPU each side used is printed. Nothing here asserts a speed.
With ``--json PATH`` it also writes its headline figures there (bench/headline.py), for
bench/run_all.py; an HTTP answer other than 200 is then a failure (exit status 1).
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import multiprocessing
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections import Counter
from datetime import date
from http.cookies import SimpleCookie
from importlib import metadata
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, func, make_url, select  # noqa: E402

from bench import headline  # noqa: E402
from bench.eligibility import JURISDICTIONS, day_between, generate, load_population  # noqa: E402
from registry import create_app  # noqa: E402
from registry.accounts.services import create_user  # noqa: E402
from registry.coding import gate, services  # noqa: E402
from registry.coding.models import CodingCheck  # noqa: E402
from registry.coding.schemas import VisitInput  # noqa: E402
from registry.coding.tables import default_tables  # noqa: E402
from registry.demo.services import documented_care  # noqa: E402
from registry.eligibility.services import BatchItem, evaluate_batch  # noqa: E402
from registry.extensions import db  # noqa: E402
from registry.providers.npi import npi_check_digit, npi_problem  # noqa: E402
from registry.rules import services as rules  # noqa: E402
from registry.scratch import database_version, load_state_rules, rebuild_schema  # noqa: E402

BATCH = services.MAX_VISITS
FIRST_DAY, LAST_DAY = date(2023, 1, 1), date(2026, 10, 31)
BILLER, PASSWORD = "bench-biller@example.org", "bench password, long enough"
HTTP_VISITS = 400
#: visits by a provider in a state where they were eligible in mid-2025 (ELIGIBLE_ON), in any
#: state where they hold a license (any status), in any state: the rest
SHARE_ELIGIBLE, SHARE_LICENSED, ELIGIBLE_ON = 0.65, 0.23, date(2025, 6, 1)
P99_AIM_MS, RATIO_AIM = 25.0, 0.5
#: the app's rate limits (per user, per worker) would refuse most of a run from one biller
#: account; raised out of reach, the limiter still counts every request as in production
RATE_LIMITS = {"API_RATE_LIMIT": "10000000 per minute", "LOGIN_RATE_LIMIT": "10000 per minute"}

# a visit's muscles, claim lines and payer: registry.demo.services.documented_care
PAYERS = {  # payer type: (weight, names)
    "medicare": (22, ("Medicare Part B", "Medicare")),
    "medicaid": (8, ("Texas Medicaid", "Medi-Cal", "Apple Health")),
    "commercial": (52, ("Aetna", "Aetna Better Health", "Cigna", "Anthem Blue Cross", "UnitedHealthcare",
                        "Blue Cross Blue Shield of Texas", "BCBS of Illinois", "Humana", "Kaiser Permanente",
                        "Wellmark", "Paramount", "TRICARE West", "Oscar")),
    "workers_comp": (6, ("State Compensation Insurance Fund", "Liberty Mutual WC")),
    "self_pay": (12, ("",)),
}
DIAGNOSES = ("M79.18", "M54.50", "M54.2", "M62.830", "M25.511", "M79.10", "M54.6", "S16.1XXA", "M53.82", "M7918")


# --- the visits ----------------------------------------------------------------------------------
def make_visits(population: dict[str, list[dict]], eligible: list[tuple[str, str]], n: int, seed: int) -> list[gate.Visit]:
    """``n`` visits, reproducible from ``seed`` (see the module docstring for the mix).
    ``eligible``: (NPI, state) pairs where the provider was eligible in mid-2025."""
    rng = random.Random(seed)
    profession_of = {p["npi"]: p["profession_code"] for p in population["provider"]}
    npi_of = {p["id"]: p["npi"] for p in population["provider"]}
    licensed: dict[str, list[str]] = {}
    for lic in population["license"]:
        licensed.setdefault(npi_of[lic["provider_id"]], []).append(lic["jurisdiction_code"])
    npis = list(profession_of)
    visits = []
    for _ in range(n):
        roll = rng.random()
        if roll < SHARE_ELIGIBLE and eligible:  # a clinic's own clinician, in a state they work in
            npi, code = rng.choice(eligible)
        else:
            npi = rng.choice(npis)
            code = rng.choice(licensed[npi]) if roll < SHARE_ELIGIBLE + SHARE_LICENSED else rng.choice(JURISDICTIONS)
        profession = profession_of[npi]
        if rng.random() < 0.005:  # an NPI that is valid but not in the registry
            while npi in profession_of:
                first_nine = str(rng.randint(100_000_000, 299_999_999))
                npi = first_nine + str(npi_check_digit(first_nine))
        care = documented_care(rng, profession, PAYERS)
        diagnoses = rng.sample(DIAGNOSES, rng.randint(1, 3))
        if rng.random() < 0.005:
            diagnoses.append("724.2")  # an ICD-9 code: malformed for ICD-10-CM
        visits.append(gate.Visit(
            npi=npi, jurisdiction=code, day=day_between(rng, FIRST_DAY, LAST_DAY), payer_type=care.payer_type,
            payer_name=care.payer_name, muscles=care.muscles, lines=care.lines, diagnoses=tuple(diagnoses),
            consent_on_file=rng.random() < 0.95, plan_of_care_on_file=rng.random() < 0.9,
            reassessment_done=rng.random() < 0.7, abn_on_file=rng.random() < (0.8 if care.medicare else 0.02),
            referral_on_file=rng.random() < 0.6,
        ))
    return visits


def eligible_pairs(app, population: dict[str, list[dict]]) -> list[tuple[str, str]]:
    """(NPI, state) for every license whose holder was eligible there on ELIGIBLE_ON."""
    npi_of = {p["id"]: p["npi"] for p in population["provider"]}
    items = sorted({BatchItem(npi_of[lic["provider_id"]], lic["jurisdiction_code"], ELIGIBLE_ON) for lic in population["license"]})
    pairs = []
    with app.app_context():
        for start in range(0, len(items), BATCH):
            pairs += [(r.item.npi, r.item.jurisdiction) for r in evaluate_batch(items[start:start + BATCH]) if r.decision and r.decision.eligible]
            db.session.remove()
    return pairs


# --- the database ----------------------------------------------------------------------------------
def prepare_database(app, n_providers: int, seed: int) -> dict:
    """Rules, the population and the biller account, committed; what was made, for the report."""
    with app.app_context():
        rule_versions = load_state_rules()
        create_user(BILLER, "biller", PASSWORD, actor_label="bench")
        db.session.commit()
        population = generate(n_providers, seed)
        t0 = time.perf_counter()
        load_population(population)
        loaded = time.perf_counter() - t0
        db.session.remove()
    return {"population": population, "rule_versions": rule_versions, "load": loaded}


# --- (1) the batch service ---------------------------------------------------------------------------
def run_batches(app, visits: list[gate.Visit]) -> dict:
    """``check_visits`` + commit per batch of 10,000, each in a fresh session; the seconds in
    ``evaluate_batch`` are taken from inside (the name ``services`` calls is wrapped for the run)."""
    statements: list[float] = []  # when each began
    in_driver = [0.0, 0.0]  # seconds in cursor.execute: outside evaluate_batch (the INSERTs), inside it
    deciding_now = [0]
    per_batch: list[int] = []
    seconds: list[float] = []
    committing: list[float] = []
    deciding: list[float] = []
    outcomes: Counter = Counter()
    edits: Counter = Counter()
    collecting = [0.0, 0.0]

    def began(*_args, **_kw):
        statements.append(time.perf_counter())

    def ended(*_args, **_kw):
        in_driver[deciding_now[0]] += time.perf_counter() - statements[-1]

    def collector(phase, _info):
        if phase == "start":
            collecting[1] = time.perf_counter()
        else:
            collecting[0] += time.perf_counter() - collecting[1]

    def timed_evaluate_batch(items):
        t0 = time.perf_counter()
        deciding_now[0] = 1
        try:
            return evaluate_batch(items)
        finally:
            deciding_now[0] = 0
            deciding.append(time.perf_counter() - t0)

    actor = rules.Actor(None, "bench")
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", began)
        event.listen(db.engine, "after_cursor_execute", ended)
        gc.callbacks.append(collector)
        services.evaluate_batch = timed_evaluate_batch
        try:
            for start in range(0, len(visits), BATCH):
                batch = visits[start:start + BATCH]
                before = len(statements)
                t0 = time.perf_counter()
                checked = services.check_visits(batch, channel="api_batch", actor=actor)
                t1 = time.perf_counter()
                db.session.commit()
                t2 = time.perf_counter()
                seconds.append(t2 - t0)
                committing.append(t2 - t1)
                per_batch.append(len(statements) - before)
                outcomes.update(c.result.outcome for c in checked)
                edits.update(e.code for c in checked for e in c.result.edits)
                del checked
                db.session.remove()  # a fresh session per batch, as each request has
        finally:
            services.evaluate_batch = evaluate_batch
            gc.callbacks.remove(collector)
            event.remove(db.engine, "after_cursor_execute", ended)
            event.remove(db.engine, "before_cursor_execute", began)
    return {"seconds": seconds, "commit": committing, "eligibility": deciding, "per_batch": per_batch, "driver": in_driver,
            "statements": len(statements), "outcomes": outcomes, "edits": edits, "gc": collecting[0]}


def run_pure_gate(app, visits: list[gate.Visit]) -> dict:
    """``gate.check`` alone over the same visits, batch by batch; each batch's decisions are
    worked out first (untimed), as ``services.run_gate`` does."""
    tables = default_tables()
    seconds: list[float] = []
    with app.app_context():
        for start in range(0, len(visits), BATCH):
            batch = visits[start:start + BATCH]
            found = evaluate_batch([BatchItem(v.npi, v.jurisdiction, v.day) for v in batch])
            decisions = [None if npi_problem(v.npi) else r.decision for v, r in zip(batch, found, strict=True)]
            del found
            db.session.remove()
            check = gate.check
            t0 = time.perf_counter()
            results = [check(v, decision=d, profession=d.profession if d else None, tables=tables) for v, d in zip(batch, decisions, strict=True)]
            seconds.append(time.perf_counter() - t0)
            del results, decisions
    return {"seconds": seconds}


# --- (2) HTTP ------------------------------------------------------------------------------------------
def database_name(url: str) -> str | None:
    parsed = make_url(url)
    return parsed.database if parsed.get_backend_name() == "postgresql" else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn, 2 sync workers, serving bench/gate_wsgi.py; always stopped by ``stop()``."""

    def __init__(self, url: str, logdir: str) -> None:
        self.port = free_port()
        self.database = database_name(url)
        self.log = Path(logdir) / "gunicorn.log"
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": secrets.token_hex(32), **RATE_LIMITS}
        command = [
            sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "sync",
            "--bind", f"127.0.0.1:{self.port}", "--pythonpath", f"{ROOT},{ROOT / 'bench'}",
            "--log-level", "warning", "--error-logfile", str(self.log), "gate_wsgi:app",
        ]
        # its own session: a Ctrl-C at the terminal reaches only us, and stop() ends it
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/bench/hello")
                if conn.getresponse().status == 200 and len(self.workers()) == 2:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def workers(self) -> list[int]:
        pid = self.process.pid
        try:
            return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def cpu_seconds(self) -> float:
        """User + system CPU of the master and its workers so far (Linux /proc)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in [self.process.pid, *self.workers()]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        return total / ticks

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # the master stops its workers gracefully
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # the group we started, nothing else
                self.process.wait()


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy so far (all cores, Linux /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def database_cpu(database: str | None) -> float:
    """CPU seconds used so far by the PostgreSQL backends serving ``database`` (their process
    titles name it); 0 for SQLite, which runs inside the app's processes."""
    if not database:
        return 0.0
    mark, ticks = f" {database} ".encode(), 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if not (entry / "cmdline").read_bytes().startswith(b"postgres: ") or mark not in (entry / "cmdline").read_bytes():
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_shares(busy: float, parts: dict[str, float], seconds: float) -> str:
    """``parts`` (CPU seconds) and everything else the machine did, as % of one core."""
    named = ", ".join(f"{name} {used / seconds:.0%}" for name, used in parts.items())
    rest = busy - sum(parts.values())
    return f"{named}, other processes and kernel {rest / seconds:.0%}; machine {busy / seconds:.0%} of {100 * (os.cpu_count() or 1)}%"


class Client:
    """One http.client connection with its own cookies."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def cookie(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
        self.conn.request(method, path, body, {"Cookie": self.cookie(), **(headers or {})})
        response = self.conn.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or ():
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response.status, data


_META = re.compile(rb'<meta name="csrf-token" content="([^"]+)"')


def signed_in_client(port: int, email: str) -> Client:
    """A client whose cookies hold a fresh session of ``email`` (signed in through the form)."""
    client = Client(port)
    status, page = client.request("GET", "/login")
    login_token = _META.search(page)
    if status != 200 or not login_token:
        raise RuntimeError(f"GET /login answered {status}")
    form = urlencode({"csrf_token": login_token.group(1).decode(), "email": email, "password": PASSWORD}).encode()
    status, _ = client.request("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
    if status != 302:
        raise RuntimeError(f"POST /login answered {status}, not 302")
    return client


def sign_in(port: int) -> tuple[str, str]:
    """A fresh biller session: (Cookie header, CSRF token for X-CSRFToken)."""
    client = signed_in_client(port, BILLER)
    status, page = client.request("GET", "/")
    token = _META.search(page)
    if status != 200 or not token:
        raise RuntimeError(f"GET / after signing in answered {status}")
    client.conn.close()
    return client.cookie(), token.group(1).decode()


def drive_threads(port: int, sessions: list[tuple[str, str]], method: str, path: str, bodies: list[bytes | None], start: float, warm_end: float, end: float) -> dict:
    """One thread per session, from ``start`` (time.monotonic) to ``end``; requests that finish
    between ``warm_end`` and ``end`` are counted."""
    latencies: list[array] = []
    statuses: list[Counter] = []
    errors: list[str] = []
    finished = [0]
    lock = threading.Lock()

    def run(index: int, cookie: str, token: str) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {name: value for name, value in (("Cookie", cookie), ("X-CSRFToken", token)) if value}
        if bodies[0] is not None:
            headers["Content-Type"] = "application/json"
        mine, seen, done, n = array("d"), Counter(), 0, len(bodies)
        position = index * 37 % n
        while time.monotonic() < start:
            time.sleep(0.001)
        while True:
            body = bodies[position]
            position = position + 1 if position + 1 < n else 0
            t0 = time.monotonic()
            try:
                conn.request(method, path, body, headers)
                response = conn.getresponse()
                data = response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as error:
                conn.close()
                status, data = type(error).__name__, b""
            t1 = time.monotonic()
            if status == 200:
                done += 1
            if t1 > end:
                break
            if t1 >= warm_end:
                mine.append(t1 - t0)
                seen[status] += 1
                if status != 200 and len(errors) < 5:
                    errors.append(f"{status}: {data[:200]!r}")
        conn.close()
        with lock:
            latencies.append(mine)
            statuses.append(seen)
            finished[0] += done

    threads = [threading.Thread(target=run, args=(i, cookie, token), daemon=True) for i, (cookie, token) in enumerate(sessions)]
    cpu0 = time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = array("d")
    for part in latencies:
        merged.extend(part)
    return {"latencies": merged, "statuses": sum(statuses, Counter()), "errors": errors, "ok_total": finished[0], "client_cpu": time.process_time() - cpu0}


def _drive_in_process(args, conn) -> None:
    try:
        conn.send(drive_threads(*args))
    finally:
        conn.close()


def drive(server: Server, sessions: list[tuple[str, str]], method: str, path: str, bodies: list[bytes | None], warmup: float, duration: float, processes: int) -> dict:
    """Drive the sessions' clients as threads here (``processes`` 1) or spread over processes;
    measure the server's CPU and the client's over the run."""
    lead = 0.2 if processes <= 1 else 1.0  # time for threads, or forked processes, to start
    start = time.monotonic() + lead
    warm_end, end = start + warmup, start + warmup + duration
    server_cpu0, busy0, database0 = server.cpu_seconds(), machine_busy(), database_cpu(server.database)
    if processes <= 1:
        result = drive_threads(server.port, sessions, method, path, bodies, start, warm_end, end)
    else:
        context = multiprocessing.get_context("fork")
        parts, children = [], []
        for k in range(processes):
            mine = sessions[k::processes]
            receive, send = context.Pipe(duplex=False)
            child = context.Process(target=_drive_in_process, args=((server.port, mine, method, path, bodies, start, warm_end, end), send), daemon=True)
            child.start()
            send.close()
            children.append((child, receive))
        try:
            for child, receive in children:
                parts.append(receive.recv())
                child.join()
        finally:
            for child, _ in children:
                if child.is_alive():
                    child.terminate()
        result = {"latencies": array("d"), "statuses": Counter(), "errors": [], "ok_total": 0, "client_cpu": 0.0}
        for part in parts:
            result["latencies"].extend(part["latencies"])
            result["statuses"] += part["statuses"]
            result["errors"] += part["errors"]
            result["ok_total"] += part["ok_total"]
            result["client_cpu"] += part["client_cpu"]
    result["server_cpu"] = server.cpu_seconds() - server_cpu0
    result["busy"] = machine_busy() - busy0
    result["database_cpu"] = database_cpu(server.database) - database0
    result["window"] = end - start  # warm-up included: the CPU figures cover it
    result["duration"] = duration
    return result


def run_http(url: str, http_visits: list[gate.Visit], args) -> dict:
    bodies = [services.visit_to_json(v) for v in http_visits]
    schema = VisitInput()
    for visit, body in zip(http_visits, bodies, strict=True):  # the endpoint reads back the same visit
        if schema.load(body) != visit:
            raise RuntimeError(f"the API would read this body as another visit: {body}")
    encoded = [json.dumps(b, separators=(",", ":")).encode() for b in bodies]
    with tempfile.TemporaryDirectory() as logdir:
        server = Server(url, logdir)
        try:
            server.wait_ready()
            sessions = [sign_in(server.port) for _ in range(args.clients)]
            # hello-world without the session cookie: with it, the app's after_request hook
            # (security headers) would load the user from the database for it too
            anonymous = [("", "")] * len(sessions)
            hello = drive(server, anonymous, "GET", "/bench/hello", [None], args.warmup, args.duration, args.client_processes)
            check = drive(server, sessions, "POST", "/api/v1/coding/check", encoded, args.warmup, args.duration, args.client_processes)
            tail = server.log_tail()
        finally:
            server.stop()
    return {"hello": hello, "check": check, "log": tail, "port": server.port}


# --- the report ----------------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    """The q-quantile of sorted ``values`` (nearest rank)."""
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, int(round(q * len(values) + 0.5)) - 1))]


def http_lines(name: str, run: dict) -> tuple[list[tuple[str, str]], float, float]:
    latencies = sorted(run["latencies"])
    ok = run["statuses"].get(200, 0)
    bad = sum(run["statuses"].values()) - ok
    rate = len(latencies) / run["duration"]
    p50, p99 = pct(latencies, 0.50) * 1000, pct(latencies, 0.99) * 1000
    errors = ", ".join(f"{k}: {v:,}" for k, v in sorted(run["statuses"].items(), key=str) if k != 200) or "none"
    window = run["window"]
    lines = [
        (name, f"{rate:,.0f} requests/s; p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {latencies[-1] * 1000 if latencies else float('nan'):.1f} ms; {len(latencies):,} requests, {bad:,} errors ({errors})"),
        (f"{name.split()[0]} CPU, warm-up included", cpu_shares(run["busy"], {"gunicorn": run["server_cpu"], "clients": run["client_cpu"], **({"PostgreSQL": run["database_cpu"]} if run["database_cpu"] else {})}, window)),
    ]
    for sample in run["errors"][:3]:
        lines.append((f"{name.split()[0]} an error", sample))
    return lines, rate, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--providers", type=int, default=20_000)
    parser.add_argument("--visits", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds each HTTP endpoint is timed (after --warmup)")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients, each with its own session")
    parser.add_argument("--client-processes", type=int, default=1, help="spread the clients over this many processes (1: threads of this process)")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-batch", action="store_true")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the headline figures to PATH as JSON (bench/headline.py); HTTP errors then exit 1")
    args = parser.parse_args()
    args.started = time.perf_counter()
    # a SIGTERM unwinds like Ctrl-C, so gunicorn is stopped and the temporary files go
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    tmp = tempfile.TemporaryDirectory()
    try:
        report(args, tmp.name)
    except KeyboardInterrupt:  # gunicorn was stopped on the way out (Server.stop)
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
    finally:
        tmp.cleanup()


def report(args, tmpdir: str) -> None:
    url = args.database_url or f"sqlite:///{tmpdir}/bench.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": False})
    rebuild_schema(app)
    out: list[tuple[str, str]] = []
    figures: list[dict] = []
    problems: list[str] = []
    with app.app_context():
        backend, server_version = database_version()
        db.session.remove()
    made = prepare_database(app, args.providers, args.seed)
    population = made["population"]
    sizes = {k: len(v) for k, v in population.items()}
    eligible = eligible_pairs(app, population)
    visits = [] if args.skip_batch else make_visits(population, eligible, args.visits, args.seed)
    http_visits = [] if args.skip_http else make_visits(population, eligible, HTTP_VISITS, args.seed + 1000)
    del population, made["population"]
    gc.collect()
    out.append(("population", f"{sizes['provider']:,} providers, {sizes['license']:,} licenses, {sizes['training_record']:,} training records, {sizes['board_registration']:,} board registrations, {made['rule_versions']} rule versions (bulk insert {made['load']:.1f} s)"))

    if visits:
        n_lines = sum(len(v.lines) for v in visits)
        payers = Counter(v.payer_type for v in visits)
        out.append(("visits", f"{len(visits):,} with {n_lines:,} claim lines ({n_lines / len(visits):.2f} a visit), {sum(len(v.muscles) for v in visits) / len(visits):.1f} muscles a visit; payers " + ", ".join(f"{k} {v / len(visits):.0%}" for k, v in payers.most_common())))
        busy0, own0, database0 = machine_busy(), time.process_time(), database_cpu(database_name(url))
        t0 = time.perf_counter()
        batch = run_batches(app, visits)
        window = time.perf_counter() - t0
        busy, own, database = machine_busy() - busy0, time.process_time() - own0, database_cpu(database_name(url)) - database0
        total = sum(batch["seconds"])
        ms = [s * 1000 for s in batch["seconds"]]
        out.append(("(1) check_visits + commit", f"{len(visits) / total:,.0f} visits/s, {n_lines / total:,.0f} claim lines/s ({total:.2f} s); per batch of {BATCH:,}: p50 {statistics.median(ms):,.0f} ms, max {max(ms):,.0f} ms"))
        figures.append(headline.figure(
            "gate.batch", f"coding gate batch, check_visits + commit, {len(visits):,} visits", len(visits) / total, "visits/s",
            p50=headline.percentile(ms, .5), p99=headline.percentile(ms, .99), latency_of=f"a batch of {BATCH:,}",
        ))
        eligibility_s, commit_s = sum(batch["eligibility"]), sum(batch["commit"])
        pure = run_pure_gate(app, visits)
        gate_s = sum(pure["seconds"])
        inserting = batch["driver"][0]
        rest = total - eligibility_s - gate_s - inserting - commit_s
        out.append(("(1) of which evaluate_batch", f"{eligibility_s:.2f} s ({eligibility_s / total:.0%})"))
        out.append(("(1) of which gate.check (timed alone)", f"{gate_s:.2f} s ({gate_s / total:.0%}): {len(visits) / gate_s:,.0f} visits/s alone; per batch p50 {statistics.median(pure['seconds']) * 1000:,.0f} ms"))
        out.append(("(1) of which the INSERT, in the driver", f"{inserting:.2f} s ({inserting / total:.0%}): the record's multi-row INSERT statements, in cursor.execute"))
        out.append(("(1) of which the rest", f"{rest:.2f} s ({rest / total:.0%}): the record's rows (JSON shapes) and their statements' rendering, as the rest of the time"))
        out.append(("(1) of which commit", f"{commit_s:.2f} s ({commit_s / total:.0%})"))
        out.append(("(1) garbage collection during (1)", f"{batch['gc']:.2f} s ({batch['gc'] / total:.0%})"))
        out.append(("(1) CPU", cpu_shares(busy, {"this process": own, **({"PostgreSQL": database} if database else {})}, window)))
        out.append(("(1) SQL statements", f"{batch['statements']:,} in all, per batch {sorted(set(batch['per_batch']))}"))
        outcomes = batch["outcomes"]
        out.append(("(1) outcomes", ", ".join(f"{k} {v:,} ({v / len(visits):.0%})" for k, v in sorted(outcomes.items()))))
        out.append(("(1) most frequent edits", ", ".join(f"{k} {v:,}" for k, v in batch["edits"].most_common(8))))
        del visits
        gc.collect()

    if http_visits:
        with app.app_context():
            db.engine.dispose()  # the server has the database to itself
        t0 = time.perf_counter()
        run = run_http(url, http_visits, args)
        mode = "threads" if args.client_processes <= 1 else f"{args.client_processes} processes"
        out.append(("(2) server", f"gunicorn {metadata.version('gunicorn')}, 2 sync workers, 127.0.0.1:{run['port']}; {args.clients} clients ({mode}), signed in as a biller for (2b); {args.warmup:g} s warm-up + {args.duration:g} s each; rate limits raised out of reach (still counted)"))
        hello_lines, hello_rate, _ = http_lines("(2a) GET /bench/hello", run["hello"])
        check_lines, check_rate, check_p99 = http_lines("(2b) POST /api/v1/coding/check", run["check"])
        out += hello_lines + check_lines
        hello_ms = sorted(run["hello"]["latencies"])
        check_ms = sorted(run["check"]["latencies"])
        figures.append(headline.figure(
            "gate.http", f"POST /api/v1/coding/check, gunicorn, {args.clients} clients", check_rate, "requests/s",
            baseline=hello_rate, baseline_label="GET /bench/hello, same server and clients",
            p50=pct(check_ms, .5) * 1000, p99=pct(check_ms, .99) * 1000, latency_of=f"a request, {args.clients} concurrent clients",
            note=f"hello world p50 {pct(hello_ms, .5) * 1000:.1f} ms, p99 {pct(hello_ms, .99) * 1000:.1f} ms",
        ))
        for which in ("hello", "check"):
            bad = sum(run[which]["statuses"].values()) - run[which]["statuses"].get(200, 0)
            if bad:
                problems.append(f"(2) {which}: {bad:,} answers other than 200: {run[which]['errors'][:2]}")
        with app.app_context():
            recorded = db.session.scalar(select(func.count()).select_from(CodingCheck).where(CodingCheck.channel == "api"))
            db.session.remove()
        out.append(("(2b) records written", f"{recorded:,} coding_check rows for {run['check']['ok_total']:,} answers 200 (warm-up included): every check records its decision and commits, inside the time measured"))
        out.append((f"(2) ratio check/hello (aim >= {RATIO_AIM})", f"{check_rate / hello_rate:.2f}"))
        out.append((f"(2) p99 < {P99_AIM_MS:g} ms at {args.clients} clients", f"{'yes' if check_p99 < P99_AIM_MS else 'no'} ({check_p99:.1f} ms)"))
        out.append(("(2) wall time", f"{time.perf_counter() - t0:.1f} s (start, sign-in, both runs, stop)"))
        if "Error" in run["log"] or "Traceback" in run["log"]:
            out.append(("(2) gunicorn log (tail)", run["log"].replace("\n", "\n" + " " * 40)))

    with app.app_context():
        db.engine.dispose()
    headline.print_report(f"coding gate benchmark: {backend} {server_version}, seed {args.seed}", out, rule=100)
    headline.write(args.json, "gate", backend, server_version, figures, problems=problems, seconds=time.perf_counter() - args.started,
                   params={k: getattr(args, k) for k in ("providers", "visits", "seed", "duration", "warmup", "clients", "client_processes", "skip_http", "skip_batch")})
    if problems and args.json:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

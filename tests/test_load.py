"""Load, and a database restart under load (``pytest -m load -s``), against the production stack:
gunicorn (``gunicorn -c gunicorn.conf.py``, 4 sync workers, ``REGISTRY_ENV=production``) on a
private PostgreSQL instance this test creates (initdb into a temporary folder, its own port on
127.0.0.1; never the shared server) and removes.

Release step first, as an operator would: ``flask db upgrade``, ``flask rules import
data/state_rules.csv``, ``flask providers import`` of generated providers and credentials
(tests/load/population.py), then managers and two API tokens (``eligibility:read``,
``coding:check``) through the account services. Then locust (tests/load/locustfile.py) drives
eligibility reads, coding checks and managers editing the same two rules through the HTML edit
page, each request written to a results file:

* phase 1 (steady load): no 5xx, no connection error; no lost update (every accepted edit is a
  version in the rule's history, in one unbroken chain, each based on the version it replaced,
  with its audit event; every refused edit was a 409 saying so and wrote nothing; the rule now
  holds the last accepted edit); every coding decision answered 200 is recorded as answered,
  and nothing else is.
* phase 2 (the same load; PostgreSQL stopped with ``pg_ctl stop -m fast``, down 3 s, started
  again, gunicorn left alone): ``/healthz`` (polled from a thread) answers 503 while it is down
  and 200 again within ``RECOVERY_LIMIT`` seconds; requests are refused with 503 and
  ``Retry-After``, never 500; they succeed again after it is back; every write acknowledged
  before, during or after the outage is in the database.

The figures (locust's counts, rates and percentiles, the 503s, the outage and the recovery) are
printed (``-s`` shows them). The 503 itself is tested quickly in tests/test_errors.py.
"""

from __future__ import annotations

import csv
import http.client
import json
import os
import pwd
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from registry import create_app, errors
from registry.extensions import db
from tests.conftest import ROOT, app_config, dispose
from tests.load import population
from tests.load.postgres import PrivatePostgres, binaries, free_port, tail, wait_for

USERS, SPAWN_RATE = 14, 14  # 4 rule editors (fixed), the rest readers and coding clerks 4:3
PHASE1_SECONDS, PHASE2_SECONDS = 20, 25
OUTAGE_AFTER, OUTAGE_SECONDS = 7.0, 3.0  # into phase 2's load; how long PostgreSQL stays down
RECOVERY_LIMIT = 10.0  # seconds from PostgreSQL accepting connections to /healthz 200
SETTLE = 2.0  # after /healthz is 200 again, every request must succeed
PROVIDERS, VISITS, SEED = 40, 300, 20250601
EDITED_RULES = (("CO", "PT"), ("TX", "PT"))
MANAGERS = 4
PASSWORD = "load test password, long enough"
EXPECTED = {"eligibility": {200}, "matrix": {200}, "coding": {200}, "edit": {302, 409},
            "edit_form": {200}, "login_form": {200}, "login": {302}}


# --- the stack -------------------------------------------------------------------------------
def _run(command: list[str], env: dict, timeout: float = 120) -> str:
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


class Gunicorn:
    """``gunicorn -c gunicorn.conf.py`` as in production; ``stop()`` always."""

    def __init__(self, env: dict, logdir: Path) -> None:
        self.port = free_port()
        self.log = logdir / "gunicorn.log"
        self.access = logdir / "access.log"
        env = env | {"WEB_CONCURRENCY": "4", "GUNICORN_BIND": f"127.0.0.1:{self.port}",
                     "GUNICORN_ACCESS_LOG": str(self.access), "GUNICORN_ERROR_LOG": str(self.log)}
        self.process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], cwd=ROOT, env=env,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def workers(self) -> list[int]:
        pid = self.process.pid
        try:
            return sorted(int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
        except OSError:
            return []

    def get(self, path: str, timeout: float = 3.0) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read().decode(errors="replace")
        finally:
            conn.close()

    def wait_ready(self, timeout: float = 60) -> None:
        def ready() -> bool:
            assert self.process.poll() is None, f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}"
            try:
                return self.get("/readyz")[0] == 200 and len(self.workers()) == 4
            except OSError:
                return False

        assert wait_for(ready, timeout), f"gunicorn not ready within {timeout} s:\n{self.log_tail()}"

    def log_tail(self, lines: int = 30) -> str:
        return tail(self.log, lines)

    def access_statuses(self) -> Counter:
        """Statuses in gunicorn's access log (text lines, or JSON lines with LOG_FORMAT=json)."""
        pattern = re.compile(r'" (\d{3}) ')
        found = Counter()
        for line in self.access.read_text(errors="replace").splitlines():
            try:  # LOG_FORMAT=json: the text line is the message
                line = json.loads(line).get("message", "")
            except (ValueError, AttributeError):
                pass
            match = pattern.search(line)
            if match:
                found[int(match.group(1))] += 1
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # the group we started, nothing else
                self.process.wait()


def release(pg_url: str, env: dict, workdir: Path) -> tuple[Gunicorn, dict]:
    """The release step, gunicorn started beside the providers import; returns the server and
    the locust configuration."""
    flask = [sys.executable, "-m", "flask"]
    _run([*flask, "db", "upgrade"], env)
    _run([*flask, "rules", "import", "data/state_rules.csv"], env)
    server = Gunicorn(env, workdir)
    try:
        providers, credentials, licensed = population.generate(PROVIDERS, SEED)
        _run([*flask, "providers", "import", str(population.write_csv(workdir / "providers.csv", population.PROVIDER_COLUMNS, providers))], env)
        _run([*flask, "providers", "import", str(population.write_csv(workdir / "credentials.csv", population.CREDENTIAL_COLUMNS, credentials))], env)
        config = {"licensed": licensed, "visits": population.visits(licensed, VISITS, SEED), "results_dir": str(workdir)}
        config.update(_accounts_and_rules(pg_url))
        (workdir / "load.json").write_text(json.dumps(config), encoding="utf-8")
    except BaseException:
        print(f"--- gunicorn log:\n{server.log_tail()}")
        server.stop()
        raise
    return server, config


def _accounts_and_rules(pg_url: str) -> dict:
    """Managers and API tokens through the account services (what ``flask users create`` and
    the /tokens page call), and the rules the editors share."""
    from registry.accounts.services import create_user
    from registry.accounts.tokens import create_token
    from registry.rules import services as rules

    app = create_app(app_config(pg_url, TESTING=False))
    try:
        with app.app_context():
            managers = []
            for n in range(1, MANAGERS + 1):
                user, _ = create_user(f"load-manager-{n}@example.org", "manager", PASSWORD, actor_label="load test")
                managers.append({"email": user.email, "password": PASSWORD, "id": user.id})
            actor = rules.Actor(id=managers[0]["id"], label=managers[0]["email"])
            _, eligibility = create_token("load test: eligibility", ["eligibility:read"], actor=actor)
            _, coding = create_token("load test: coding", ["coding:check"], actor=actor)
            edited = []
            for code, profession in EDITED_RULES:
                current = rules.current_rule(code, profession)
                assert current is not None, (code, profession)
                # a correction keeps the current version's start date (empty when unknown)
                edited.append({"jurisdiction": code, "profession": profession, "first_id": current.id,
                               "effective_from": current.effective_from.isoformat() if current.effective_from else ""})
            db.session.commit()
    finally:
        dispose(app)
    return {"managers": managers, "tokens": {"eligibility": eligibility, "coding": coding}, "rules": edited}


def run_locust(server: Gunicorn, workdir: Path, phase: str, seconds: int) -> subprocess.Popen:
    prefix = workdir / f"phase{phase}"
    command = [sys.executable, "-m", "locust", "-f", "tests/load/locustfile.py", "--headless", "-u", str(USERS),
               "-r", str(SPAWN_RATE), "-t", f"{seconds}s", "--host", f"http://127.0.0.1:{server.port}",
               "--csv", str(prefix), "--only-summary", "--stop-timeout", "5", "--exit-code-on-error", "0",
               "--loglevel", "WARNING"]
    env = os.environ | {"LOAD_CONFIG": str(workdir / "load.json"), "LOAD_PHASE": phase, "PYTHONPATH": str(ROOT)}
    with (workdir / f"locust{phase}.log").open("w") as log:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def finish(process: subprocess.Popen, workdir: Path, phase: str, seconds: int) -> None:
    try:
        code = process.wait(timeout=seconds + 40)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        pytest.fail(f"locust phase {phase} did not end")
    log = (workdir / f"locust{phase}.log").read_text(errors="replace")
    assert code == 0, f"locust phase {phase} exited with {code}:\n{log[-3000:]}"
    assert "Traceback" not in log, f"locust phase {phase} raised:\n{log[-3000:]}"


def results(workdir: Path, phase: str) -> list[dict]:
    rows = []
    for path in sorted(workdir.glob(f"results-{phase}-*.jsonl")):
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def locust_stats(workdir: Path, phase: str) -> list[dict]:
    with (workdir / f"phase{phase}_stats.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# --- what the database holds -----------------------------------------------------------------
def database_state(engine) -> dict:
    with engine.connect() as conn:
        checks = dict(conn.execute(text("SELECT id, outcome FROM coding_check")).all())
        versions = [dict(r._mapping) for r in conn.execute(text(
            "SELECT id, jurisdiction_code, profession_code, notes, superseded_at, superseded_by_id, effective_to, version_id "
            "FROM rule_version WHERE notes LIKE '%load-%' OR superseded_by_id IS NOT NULL OR superseded_at IS NULL"))]
        audits = [dict(r._mapping) for r in conn.execute(text(
            "SELECT action, entity_key, actor, reason, after FROM audit_event WHERE entity_type = 'rule' AND reason LIKE 'load test %'"))]
    return {"checks": checks, "versions": versions, "audits": audits}


def marker_of(notes: str | None) -> str | None:
    match = re.search(r"load-\d-[0-9a-f]{16}", notes or "")
    return match.group(0) if match else None


def check_edits(config: dict, state: dict, edits: list[dict], *, ambiguous_allowed: bool) -> dict:
    """No lost update, per edited rule; returns figures. ``edits``: every save so far."""
    by_id = {v["id"]: v for v in state["versions"]}
    audits = {}
    for event in state["audits"]:
        audits.setdefault(event["reason"].removeprefix("load test "), []).append(event)
    figures = {}
    for pair in config["rules"]:
        key = (pair["jurisdiction"], pair["profession"])
        mine = [e for e in edits if (e["jurisdiction"], e["profession"]) == key]
        accepted = {e["marker"]: e for e in mine if e["outcome"] == "accepted"}
        refused = {e["marker"]: e for e in mine if e["outcome"] == "conflict"}
        unavailable = {e["marker"]: e for e in mine if e["outcome"] == "unavailable"}
        others = [e for e in mine if e["outcome"] not in ("accepted", "conflict", "unavailable")]
        assert not others, f"{key}: saves that were neither accepted, refused as a conflict nor 503: {others[:3]}"
        # the chain of versions from the rule as imported, each superseded by the next correction
        chain, row = [], by_id[pair["first_id"]]
        while row["superseded_by_id"] is not None:
            row = by_id[row["superseded_by_id"]]
            chain.append(row)
        assert row["superseded_at"] is None and row["effective_to"] is None, f"{key}: the chain does not end at the current version"
        in_chain = [marker_of(r["notes"]) for r in chain]
        loaded = {marker_of(v["notes"]) for v in state["versions"]
                  if (v["jurisdiction_code"], v["profession_code"]) == key and marker_of(v["notes"])}
        assert loaded == set(in_chain), f"{key}: versions outside the chain (a fork): {loaded - set(in_chain)}"
        assert len(in_chain) == len(set(in_chain)), f"{key}: a save recorded twice"
        missing = set(accepted) - set(in_chain)
        assert not missing, f"{key}: LOST UPDATE: accepted saves not in the rule's history: {sorted(missing)[:5]}"
        stray = set(in_chain) - set(accepted) - (set(unavailable) if ambiguous_allowed else set())
        assert not stray, f"{key}: versions written by saves that were not accepted: {sorted(stray)[:5]}"
        assert not set(refused) & set(in_chain), f"{key}: a save refused as a conflict was written"
        # each accepted save replaced exactly the version its editor had read
        previous = pair["first_id"]
        for version, marker in zip(chain, in_chain, strict=True):
            if marker in accepted:
                edit = accepted[marker]
                assert edit["base_id"] == previous, f"{key}: {marker} was based on version {edit['base_id']} but replaced {previous}"
            previous = version["id"]
        # each refused save was told so: 409 with the conflict message
        untold = [e for e in refused.values() if not e["conflict_message"]]
        assert not untold, f"{key}: conflicts refused without saying so: {untold[:3]}"
        # the audit log holds every accepted save, by its editor, with the value written
        for marker, edit in accepted.items():
            events = audits.get(marker, [])
            assert len(events) == 1, f"{key}: {marker} has {len(events)} audit events"
            event = events[0]
            after = event["after"] if isinstance(event["after"], dict) else json.loads(event["after"])
            assert (event["action"], event["entity_key"], event["actor"]) == ("rule.correct", f"{key[0]}/{key[1]}", edit["user"])
            assert marker in after["notes"], f"{key}: the audit of {marker} records other notes: {after['notes']!r}"
        # the rule now holds the last accepted save (the chain's newest accepted version)
        last_accepted = [m for m in in_chain if m in accepted]
        final = in_chain[-1] if in_chain else None
        if not ambiguous_allowed or final in accepted:
            assert final == (last_accepted[-1] if last_accepted else None), f"{key}: the rule holds {final}, the last accepted save is {last_accepted[-1:]}"
        by_time = max(accepted.values(), key=lambda e: e["t1"])["marker"] if accepted else None
        figures[f"{key[0]}/{key[1]}"] = {
            "accepted": len(accepted), "conflicts": len(refused), "unavailable": len(unavailable),
            "versions": len(in_chain), "final": final, "last_acknowledged": by_time,
            "unavailable_but_saved": len(set(unavailable) & set(in_chain)),
        }
    return figures


def check_coding(state: dict, coding: list[dict], *, exact: bool) -> dict:
    answered = [r for r in coding if r["status"] == 200]
    ids = [r["check_id"] for r in answered]
    assert len(ids) == len(set(ids)), "one check id answered twice"
    lost = [r for r in answered if state["checks"].get(r["check_id"]) != r["outcome"]]
    assert not lost, f"coding decisions answered 200 but not recorded as answered: {lost[:5]}"
    extra = len(state["checks"]) - len(ids)
    refused = sum(1 for r in coding if r["status"] != 200)
    if exact:
        assert extra == 0, f"{len(state['checks'])} coding_check rows for {len(ids)} answered checks"
    else:
        assert 0 <= extra <= refused, f"{extra} coding_check rows more than the answered checks, with only {refused} refused"
    return {"answered": len(ids), "rows": len(state["checks"]), "rows_not_answered": extra,
            "outcomes": dict(Counter(r["outcome"] for r in answered))}


# --- the outage --------------------------------------------------------------------------------
class HealthPoller(threading.Thread):
    """GET /healthz every 100 ms: (time, status; 0 when the server did not answer)."""

    def __init__(self, server: Gunicorn) -> None:
        super().__init__(daemon=True)
        self.server, self.samples, self.halt = server, [], threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            started = time.time()
            try:
                status = self.server.get("/healthz", timeout=5)[0]
            except (OSError, http.client.HTTPException):
                status = 0
            self.samples.append((started, status))
            self.halt.wait(0.1)


def outage(pg: PrivatePostgres, workdir: Path, timeline: dict) -> None:
    """Once phase 2's load has started, stop PostgreSQL (fast), keep it down, start it again."""
    assert wait_for(lambda: any(p.stat().st_size for p in workdir.glob("results-2-*.jsonl")), 30), "phase 2 load never started"
    timeline["load_started"] = time.time()
    time.sleep(OUTAGE_AFTER)
    timeline["stop_begin"] = time.time()
    pg.stop("fast")
    timeline["stop_done"] = time.time()
    time.sleep(OUTAGE_SECONDS)
    timeline["start_begin"] = time.time()
    pg.start()
    timeline["start_done"] = time.time()


# --- the report --------------------------------------------------------------------------------
def report(phase: str, stats: list[dict], rows: list[dict]) -> None:
    print(f"\n== phase {phase}: locust (statuses from the results files)")
    print(f"{'request':<26}{'count':>7}{'fail':>6}{'req/s':>8}{'p50':>7}{'p95':>7}{'p99':>7}{'max':>8}  statuses")
    kinds = {"GET eligibility": "eligibility", "GET eligibility matrix": "matrix", "POST coding check": "coding",
             "POST rule edit": "edit", "GET rule edit form": "edit_form", "GET login": "login_form", "POST login": "login"}
    for row in stats:
        statuses = Counter(r["status"] for r in rows if r["kind"] == kinds.get(row["Name"]))
        label = "all" if row["Name"] == "Aggregated" else row["Name"]
        print(f"{label:<26}{row['Request Count']:>7}{row['Failure Count']:>6}{float(row['Requests/s']):>8.1f}"
              f"{row['50%']:>7}{row['95%']:>7}{row['99%']:>7}{float(row['Max Response Time']):>8.0f}  "
              + (", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())) if row["Name"] != "Aggregated" else ""))
    print("(times in ms)")


def assert_no_server_errors(rows: list[dict], phase: str) -> None:
    five = [r for r in rows if r["status"] >= 500 and r["status"] != 503]
    assert not five, f"phase {phase}: {len(five)} answers 5xx other than 503, e.g. {five[:3]}"
    dropped = [r for r in rows if r["status"] == 0]
    assert not dropped, f"phase {phase}: {len(dropped)} connection errors, e.g. {dropped[:3]}"


# --- the test ------------------------------------------------------------------------------------
@pytest.mark.load
def test_load_and_a_database_restart(tmp_path):
    bin_dir = binaries()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries in /usr/lib/postgresql/<version>/bin (apt-get install postgresql)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root, and there is no 'postgres' user to run a private PostgreSQL as")
    app = create_app(app_config("sqlite://"))
    dispose(app)
    if errors._end_of_context not in app.teardown_appcontext_funcs:
        pytest.fail("registry/app.py does not call errors.init_app(app): without it the JSON API answers 500, not 503, "
                    "while the database is down, and a connection cut at the end of a request makes it a 500")
    started = time.monotonic()
    workdir = tmp_path
    pg = PrivatePostgres(bin_dir)
    server = None
    try:
        pg.initdb()
        pg.start()
        env = os.environ | {
            "FLASK_APP": "registry:create_app", "DATABASE_URL": pg.url, "REGISTRY_ENV": "production",
            "SECRET_KEY": secrets.token_hex(32), "RATELIMIT_ENABLED": "0", "MAIL_BACKEND": "file",
            "MAIL_FILE_DIR": str(workdir / "mail"), "GUNICORN_LOG_LEVEL": "warning",
        }
        server, config = release(pg.url, env, workdir)
        server.wait_ready()
        master, workers = server.process.pid, server.workers()
        setup_seconds = time.monotonic() - started
        engine = create_engine(pg.url, pool_pre_ping=True)
        try:
            # phase 1: steady load
            finish(run_locust(server, workdir, "1", PHASE1_SECONDS), workdir, "1", PHASE1_SECONDS)
            rows1 = results(workdir, "1")
            report("1", locust_stats(workdir, "1"), rows1)
            assert_no_server_errors(rows1, "1")
            assert not [r for r in rows1 if r["status"] == 503], "phase 1: 503 with the database up"
            unexpected = [r for r in rows1 if r["status"] not in EXPECTED[r["kind"]]]
            assert not unexpected, f"phase 1: unexpected answers: {unexpected[:5]}"
            state = database_state(engine)
            edits1 = check_edits(config, state, [r for r in rows1 if r["kind"] == "edit"], ambiguous_allowed=False)
            coding1 = check_coding(state, [r for r in rows1 if r["kind"] == "coding"], exact=True)
            print(f"rule edits: {edits1}\ncoding checks: {coding1}")
            assert sum(f["conflicts"] for f in edits1.values()) > 0, "no edit conflicted: the editors never raced"
            assert all(f["accepted"] for f in edits1.values()), "a rule was never edited"

            # phase 2: the same load, PostgreSQL restarted in the middle
            poller = HealthPoller(server)
            poller.start()
            timeline: dict[str, float] = {}
            locust2 = run_locust(server, workdir, "2", PHASE2_SECONDS)
            try:
                outage(pg, workdir, timeline)
            finally:
                finish(locust2, workdir, "2", PHASE2_SECONDS)
                poller.halt.set()
                poller.join(10)
            rows2 = results(workdir, "2")
            report("2", locust_stats(workdir, "2"), rows2)
            samples = poller.samples
            down_from, down_to = timeline["stop_done"], timeline["start_begin"]
            during = [s for t, s in samples if down_from <= t <= down_to]
            back = next((t for t, s in samples if t >= timeline["start_begin"] and s == 200), None)
            recovered_in = (back - timeline["start_done"]) if back else None
            first_503 = next((t for t, s in samples if t >= timeline["stop_begin"] and s == 503), None)
            refused = [r for r in rows2 if r["status"] == 503]
            print(f"\n== outage: PostgreSQL stop requested at +{timeline['stop_begin'] - timeline['load_started']:.1f} s of load, "
                  f"down (stop done to start) {down_to - down_from:.1f} s, start took {timeline['start_done'] - timeline['start_begin']:.1f} s")
            print(f"/healthz: {len(samples)} polls; while down {dict(Counter(during))}; first 503 "
                  f"{(first_503 - timeline['stop_begin']) if first_503 else float('nan'):.2f} s after the stop began; "
                  f"200 again {(back - timeline['start_begin']) if back else float('nan'):.2f} s after the start began "
                  f"({recovered_in if recovered_in is not None else float('nan'):+.2f} s from pg_ctl start returning)")
            print(f"503 answers: {len(refused)} ({dict(Counter(r['kind'] for r in refused))}); "
                  f"from {min((r['t1'] for r in refused), default=0) - timeline['stop_begin']:+.2f} s to "
                  f"{max((r['t1'] for r in refused), default=0) - timeline['start_done']:+.2f} s "
                  f"(relative to the stop beginning / PostgreSQL back)")
            print(f"gunicorn: master {master} kept; workers {workers} -> {server.workers()}; access log statuses {dict(server.access_statuses())}")

            assert_no_server_errors(rows2, "2")
            assert server.process.poll() is None and server.process.pid == master, "gunicorn was restarted or died"
            assert 500 not in server.access_statuses(), "gunicorn's access log shows a 500"
            assert 0 not in [s for _, s in samples] and 500 not in [s for _, s in samples], "/healthz failed to answer"
            assert during and set(during) == {503}, f"/healthz while PostgreSQL was down: {Counter(during)}"
            assert recovered_in is not None and recovered_in <= RECOVERY_LIMIT, f"/healthz not 200 within {RECOVERY_LIMIT} s of the restart"
            assert refused, "no request was refused while the database was down"
            assert all(r["retry_after"] for r in refused if r["kind"] in ("coding", "edit")), "a 503 without Retry-After"
            assert all(r["t1"] >= timeline["stop_begin"] and r["t0"] <= back + SETTLE for r in refused), "a 503 outside the outage"
            unexpected = [r for r in rows2 if r["status"] not in EXPECTED[r["kind"]] | {503}]
            assert not unexpected, f"phase 2: unexpected answers: {unexpected[:5]}"
            after = [r for r in rows2 if r["t0"] > back + SETTLE]
            assert after and all(r["status"] in EXPECTED[r["kind"]] for r in after), "requests failing after recovery"
            assert {r["kind"] for r in after if r["status"] in (200, 302)} >= {"eligibility", "coding", "edit"}, "not every kind of request succeeded again"

            # nothing acknowledged is lost, before, during or after the outage
            state = database_state(engine)
            edits = [r for r in rows1 + rows2 if r["kind"] == "edit"]
            edits2 = check_edits(config, state, edits, ambiguous_allowed=True)
            coding2 = check_coding(state, [r for r in rows1 + rows2 if r["kind"] == "coding"], exact=False)
            print(f"rule edits (both phases): {edits2}\ncoding checks (both phases): {coding2}")
            print(f"setup {setup_seconds:.1f} s, whole test {time.monotonic() - started:.1f} s")
        finally:
            engine.dispose()
    except BaseException:
        if server is not None:
            print(f"--- gunicorn log:\n{server.log_tail()}")
        print(f"--- PostgreSQL log:\n{pg.log_tail()}")
        raise
    finally:
        if server is not None:
            server.stop()
        pg.destroy()

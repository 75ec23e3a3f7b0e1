"""The expiry-alert job against a real SMTP server (aiosmtpd on a free loopback port): what is
due, exactly-once delivery through the outbox whatever the SMTP failures, concurrent runs,
catch-up over frozen dates, rule-change messages, the outbox page and the command line
(both databases)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter, deque
from datetime import date, datetime, timedelta, timezone
from email import message_from_bytes
from email.policy import default as default_policy
from types import SimpleNamespace

import pytest
import time_machine
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from registry.alerts import jobs, services
from registry.alerts.models import AlertRun, OutboxMessage
from registry.extensions import db
from registry.providers import services as providers
from registry.rules.services import Actor
from tests.conftest import MAIL_DIR, PASSWORD

ACTOR = Actor(None, "test")
TODAY = date(2026, 11, 27)
EXPIRY = TODAY + timedelta(days=30)  # the 30-day window is due today


class Inbox:
    """An aiosmtpd handler: records what it accepts; answers the next RCPTs with the codes
    queued in ``refuse`` (e.g. "451 4.3.0 try again later")."""

    def __init__(self) -> None:
        self.messages: list = []
        self.refuse: deque[str] = deque()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's name)
        if self.refuse:
            return self.refuse.popleft()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]


def subject(mail) -> str:
    """The Subject as a reader sees it (a long one is folded onto a continuation line)."""
    return str(mail["Subject"]).strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp(app):
    server = SmtpServer()
    server.start()
    app.config.update(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=server.port, SMTP_TIMEOUT=5, SMTP_SECURITY="none", BASE_URL="https://registry.example.org")
    yield server
    server.stop()


@pytest.fixture
def people(app, real_rules, make_user):
    """Dana (a PT licensed in WA since 2016, everything WA asks for, her WA license expiring in
    30 days) and a manager. Returns Dana's provider id."""
    make_user("manager", "boss@example.org")
    with app.app_context():
        dana = providers.create_provider({"name": "Dana Example", "npi": "1234567893", "profession_code": "PT", "email": "dana@example.org"}, actor=ACTOR)
        providers.add_credential("license", dana, {"jurisdiction_code": "WA", "number": "WA-1", "issued_on": date(2016, 1, 1), "expires_on": EXPIRY, "status": "active"}, actor=ACTOR)
        providers.add_credential("license", dana, {"jurisdiction_code": "CO", "number": "CO-1", "issued_on": date(2016, 1, 1), "expires_on": date(2030, 1, 1), "status": "active"}, actor=ACTOR)
        providers.add_credential("training", dana, {"course_title": "DN", "completed_on": date(2023, 1, 1), "total_hours": 400, "practical_hours": 100, "supervised_sessions": 200}, actor=ACTOR)
        providers.add_credential("registration", dana, {"jurisdiction_code": "WA", "number": "END-1", "issued_on": date(2024, 7, 1), "status": "active"}, actor=ACTOR)
        db.session.commit()
        return dana.id


def run(app, as_of: date | None = TODAY, **kwargs) -> SimpleNamespace:
    """One alert run (as_of None: today, as the clock says); its record as plain values."""
    with app.app_context():
        record = jobs.run_alerts(as_of, **kwargs)
        return SimpleNamespace(id=record.id, status=record.status, counts=record.counts, as_of=record.as_of)


def outbox(app) -> list[OutboxMessage]:
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        db.session.expunge_all()
        return rows


# --- the happy path ------------------------------------------------------------------------------
def test_a_license_expiring_in_30_days_gives_one_email_and_one_digest_line(app, smtp, people):
    first = run(app)
    assert first.status == "ok" and first.counts["queued"] == 1 and first.counts["digests"] == 1 and first.counts["sent"] == 2
    [mail] = smtp.inbox.to("dana@example.org")
    assert subject(mail) == "Your WA PT license WA-1 expires on 2026-12-27 (30 days): dry needling in WA"
    text = mail.get_body(("plain",)).get_content()
    assert "no longer be eligible to dry-needle in: WA" in text and "https://registry.example.org/providers/" in text
    assert "<strong>2026-12-27</strong>" in mail.get_body(("html",)).get_content()
    [digest] = smtp.inbox.to("boss@example.org")
    body = digest.get_body(("plain",)).get_content()
    assert "WITHIN 30 DAYS (1)" in body and "Dana Example (NPI 1234567893): WA PT license WA-1" in body and "ends in WA" in body
    # the same day again, and the next day: nothing more (the 30-day window was sent)
    assert run(app).counts["queued"] == 0 and run(app, TODAY + timedelta(days=1)).counts["due"] == 1
    assert len(smtp.inbox.messages) == 2
    assert {m.status for m in outbox(app)} == {"sent"}


def test_each_expiry_names_only_the_states_it_ends(app, smtp, people):
    """A TX license lapsing the same day as the WA one: each message names its own state."""
    with app.app_context():
        dana = providers.get_provider(people)
        providers.add_credential("license", dana, {"jurisdiction_code": "TX", "number": "TX-1", "issued_on": date(2016, 1, 1), "expires_on": EXPIRY, "status": "active"}, actor=ACTOR)
        db.session.commit()
    run(app)
    subjects = sorted(subject(m) for m in smtp.inbox.to("dana@example.org"))
    assert subjects == ["Your TX PT license TX-1 expires on 2026-12-27 (30 days): dry needling in TX", "Your WA PT license WA-1 expires on 2026-12-27 (30 days): dry needling in WA"]


def test_a_credential_no_state_depends_on_says_so(app, smtp, people):
    with app.app_context():
        dana = providers.get_provider(people)
        providers.add_credential("registration", dana, {"jurisdiction_code": "CO", "number": "CO-R", "issued_on": date(2020, 1, 1), "expires_on": EXPIRY, "status": "active"}, actor=ACTOR)
        db.session.commit()
    run(app)
    [mail] = [m for m in smtp.inbox.to("dana@example.org") if "CO board registration" in subject(m)]
    assert subject(mail) == "Your CO board registration CO-R expires on 2026-12-27 (30 days)"
    assert "does not show it ending your dry-needling eligibility in any state" in mail.get_body(("plain",)).get_content()


def test_dry_run_queues_nothing(app, smtp, people, runner):
    result = runner.invoke(args=["alerts", "run", "--as-of", TODAY.isoformat(), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "1 due, 1 queued" in result.output and "would queue: Dana Example: WA PT license WA-1, before-30" in result.output
    assert outbox(app) == [] and smtp.inbox.messages == []
    result = runner.invoke(args=["alerts", "run", "--as-of", TODAY.isoformat()])
    assert result.exit_code == 0 and "sent 2" in result.output


def test_a_bad_date_on_the_command_line_is_refused(runner):
    result = runner.invoke(args=["alerts", "run", "--as-of", "2026-02-30"])
    assert result.exit_code == 2 and "--as-of" in result.output


# --- catch-up over frozen dates -------------------------------------------------------------------
def test_after_a_week_without_runs_only_the_most_urgent_window_goes_out(app, smtp, people):
    """The 90- and 60-day windows were missed (no runs); a week after the 30-day one was
    reached, a run sends that one, once; the 7-day one follows on its day."""
    with time_machine.travel(datetime.combine(EXPIRY - timedelta(days=23), datetime.min.time(), tzinfo=timezone.utc), tick=False):
        first = run(app, as_of=None)
        assert first.as_of == EXPIRY - timedelta(days=23)
    with time_machine.travel(datetime.combine(EXPIRY - timedelta(days=7), datetime.min.time(), tzinfo=timezone.utc), tick=False):
        run(app, as_of=None)
        run(app, as_of=None)
    windows = [m.details["window"] for m in outbox(app) if m.kind == "credential_expiry"]
    assert windows == ["before-30", "before-7"]
    assert len(smtp.inbox.to("dana@example.org")) == 2


def test_expired_credentials_are_told_after_expiry_and_then_no_more(app, smtp, people):
    run(app, EXPIRY + timedelta(days=15))  # the after-14 window
    run(app, EXPIRY + timedelta(days=28))  # after-28
    run(app, EXPIRY + timedelta(days=60))  # past every window: nothing
    [after14, after28] = [m for m in outbox(app) if m.kind == "credential_expiry"]
    assert (after14.details["window"], after28.details["window"]) == ("after-14", "after-28")
    assert "expired on 2026-12-27" in after14.subject and "no longer eligible to dry-needle in: WA" in after14.body_text


# --- failures ------------------------------------------------------------------------------------
def later(app, minutes: int):
    """Let the retry back-off pass: move every queued message's next attempt into the past."""
    with app.app_context():
        for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.status == "queued")):
            m.next_attempt_at -= timedelta(minutes=minutes)
        db.session.commit()


def flush(app) -> dict:
    with app.app_context():
        return jobs.flush_outbox()


def test_a_4xx_answer_is_retried_and_delivered_exactly_once(app, smtp, people):
    smtp.inbox.refuse.extend(["451 4.3.0 try again later"] * 2)
    first = run(app)
    assert first.counts["retry"] == 2 and first.counts["sent"] == 0
    messages = outbox(app)
    assert {m.status for m in messages} == {"queued"} and all("451" in m.last_error for m in messages)
    assert flush(app) == {"sent": 0, "retry": 0, "failed": 0}  # not yet due again: backing off
    later(app, 10)
    assert flush(app)["sent"] == 2 and flush(app)["sent"] == 0
    assert Counter(m["To"] for m in smtp.inbox.messages) == {"dana@example.org": 1, "boss@example.org": 1}
    assert {(m.status, m.attempts) for m in outbox(app)} == {("sent", 2)}


def test_a_server_that_is_down_then_up_gets_every_message_once(app, smtp, people):
    smtp.stop()
    first = run(app)
    assert first.status == "ok" and first.counts["retry"] == 2
    assert all("unreachable" in m.last_error or "refused" in m.last_error.lower() for m in outbox(app))
    smtp.start()
    later(app, 10)
    assert flush(app)["sent"] == 2
    later(app, 60)
    assert flush(app)["sent"] == 0
    assert sorted(m["To"] for m in smtp.inbox.messages) == ["boss@example.org", "dana@example.org"]


def test_a_5xx_answer_fails_for_good_and_a_manager_can_send_it_again(app, smtp, people, client, make_user):
    smtp.inbox.refuse.append("550 5.1.1 no such user")
    run(app)
    [failed] = [m for m in outbox(app) if m.status == "failed"]
    assert failed.last_error.startswith("permanent: recipient refused") and failed.attempts == 1
    _, email = make_user("manager", "second@example.org")
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    page = client.get("/alerts/outbox?status=failed").get_data(as_text=True)
    assert "permanent: recipient refused" in page and "Send again" in page
    assert client.post(f"/alerts/outbox/{failed.id}/resend").status_code == 303
    assert flush(app)["sent"] == 1
    assert [subject(m) for m in smtp.inbox.to("dana@example.org")] == [failed.subject]


def test_gives_up_after_the_last_attempt(app, smtp, people):
    app.config["ALERT_MAX_ATTEMPTS"] = 2
    smtp.inbox.refuse.extend(["421 4.7.0 busy"] * 4)
    run(app)
    later(app, 10)
    assert flush(app)["failed"] == 2
    assert all(m.status == "failed" and m.last_error.startswith("gave up after 2 attempts") for m in outbox(app))


# --- concurrency ---------------------------------------------------------------------------------
def test_two_runs_at_the_same_time_deliver_each_message_once(app, smtp, people):
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def one_run():
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                jobs.run_alerts(TODAY, trigger="cli")
        except BaseException as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert Counter(m["To"] for m in smtp.inbox.messages) == {"dana@example.org": 1, "boss@example.org": 1}
    with app.app_context():
        runs = db.session.scalars(select(AlertRun)).all()
        assert [r.status for r in runs] == ["ok", "ok"] and sorted(r.counts["queued"] for r in runs) == [0, 1]


def test_two_senders_never_claim_the_same_message(app, people):
    with app.app_context():
        services.queue_due(TODAY, run_id=None)
        db.session.commit()
        now = datetime.now(timezone.utc)
        first = services.claim("a", now)
        db.session.commit()
        second = services.claim("b", now)
        db.session.commit()
        assert len(first) == 2 and second == []
        # a lease that ran out (its sender died) is taken over
        taken = services.claim("b", now + services.LEASE + timedelta(seconds=1))
        assert sorted(m.id for m in taken) == sorted(m.id for m in first)
        db.session.rollback()


# --- rule changes --------------------------------------------------------------------------------
def test_a_rule_change_that_takes_eligibility_away_queues_one_message(app, smtp, people):
    from registry.eligibility.engine import RuleFacts
    from registry.eligibility.services import rule_change_impact
    from registry.rules import services as rules
    from registry.rules.csvio import CONTENT_COLUMNS

    with app.app_context():
        day = date(2026, 12, 1)  # while Dana's WA license is still held
        current = rules.current_rule("WA", "PT")
        values = {c: getattr(current, c) for c in CONTENT_COLUMNS if c != "effective_to"}
        values.update(min_training_hours=500, effective_from=day, citation="WAC 246-915-390 (test amendment)")
        proposed = RuleFacts(jurisdiction="WA", profession="PT", status="permitted", min_training_hours=500, citation=values["citation"], effective_from=day)
        impact = rule_change_impact("WA", "PT", proposed, day)
        version = rules.revise_rule("WA", "PT", values, reason="test", actor=ACTOR, expected_id=current.id, expected_version=current.version_id)
        assert services.queue_rule_change(version, impact) == 1
        assert services.queue_rule_change(version, impact) == 0  # the same change: not twice
        db.session.commit()
        assert jobs.flush_outbox()["sent"] == 1
    [mail] = smtp.inbox.to("dana@example.org")
    assert subject(mail) == "Dry needling in WA: the PT rule changes on 2026-12-01 and you are no longer eligible"
    assert "Dry-needling training: 400 hours, WA requires 500." in mail.get_body(("plain",)).get_content()


# --- the page ------------------------------------------------------------------------------------
def test_the_outbox_page_warns_when_the_job_has_not_run(app, client, make_user, people):
    _, email = make_user("auditor", "audit@example.org")
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    page = client.get("/alerts/outbox").get_data(as_text=True)
    assert 'id="stale-warning"' in page and "never run successfully" in page
    assert "Queue what is due today" not in page  # auditors read only
    run(app)
    page = client.get("/alerts/outbox").get_data(as_text=True)
    assert 'id="stale-warning"' not in page and "last ran successfully" in page
    with time_machine.travel(datetime.now(timezone.utc) + timedelta(days=3)):
        assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302  # the session ended
        assert 'id="stale-warning"' in client.get("/alerts/outbox").get_data(as_text=True)
        assert client.post("/alerts/run").status_code == 403
        assert client.get("/alerts/outbox?status=lost").status_code == 400


def test_clinicians_do_not_see_the_outbox(client, login):
    login("clinician")
    assert client.get("/alerts/outbox").status_code == 403


def test_a_manager_queues_what_is_due_from_the_page(app, client, login, people):
    login("manager")
    response = client.post("/alerts/run", follow_redirects=True)
    assert response.status_code == 200 and "1 queued" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "queued")) == 3  # Dana + 2 managers' digests


# --- the scheduler -------------------------------------------------------------------------------
def test_create_app_never_starts_a_scheduler():
    code = (
        "import sys, threading\n"
        "from registry import create_app\n"
        "app = create_app({'SECRET_KEY': 'x', 'SQLALCHEMY_DATABASE_URI': 'sqlite://'})\n"
        "print('registry.alerts.scheduler' in sys.modules, any('APScheduler' in t.name or 'apscheduler' in type(t).__module__ for t in threading.enumerate()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["False", "False"], out.stdout + out.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_scheduler_process_stops_cleanly_on_a_signal(app, database_url, signum):
    """systemd and docker stop with SIGTERM, a terminal with Ctrl-C: both end the process with
    status 0 and no traceback, after the scheduler shut down."""
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret", "MAIL_BACKEND": "file", "MAIL_FILE_DIR": MAIL_DIR, "FLASK_APP": "registry:create_app"}
    with subprocess.Popen([sys.executable, "-m", "flask", "alerts", "scheduler"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        try:
            seen = []  # log lines (stderr) come first
            while not (seen and seen[-1].startswith("Alert scheduler started:")):
                line = process.stdout.readline()
                assert line, "".join(seen)
                seen.append(line)
            process.send_signal(signum)
            out, _ = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0, out
    assert "Traceback" not in out, out
    assert f"Alert scheduler stopping ({signal.Signals(signum).name})" in out
    assert out.rstrip().endswith("Alert scheduler stopped."), out


def test_the_scheduler_runs_the_job_daily_coalescing_with_a_generous_grace(app):
    from registry.alerts.scheduler import MISFIRE_GRACE_SECONDS, build_scheduler

    app.config.update(ALERT_RUN_AT=(6, 30), ALERT_TIMEZONE="America/Chicago")
    scheduler = build_scheduler(app)
    assert not scheduler.running
    jobs_by_id = {job.id: job for job in scheduler.get_jobs()}
    daily = jobs_by_id["daily-alerts"]
    assert (daily.coalesce, daily.max_instances, daily.misfire_grace_time) == (True, 1, MISFIRE_GRACE_SECONDS)
    assert str(daily.trigger) == "cron[hour='6', minute='30']" and str(daily.trigger.timezone) == "America/Chicago"
    assert "send-outbox" in jobs_by_id


def test_saving_a_stricter_rule_on_the_page_tells_who_loses_eligibility(app, smtp, people, client, login):
    from tests.test_pages import form_for

    login("manager")
    data = form_for(client, "/jurisdictions/WA/PT/edit")
    data.update(effective_from="2026-12-01", min_training_hours="500", reason="hours raised")
    response = client.post("/jurisdictions/WA/PT/edit", data=data, follow_redirects=True)
    assert "1 provider(s) who lose eligibility under it will be told by email" in response.get_data(as_text=True)
    [queued] = [m for m in outbox(app) if m.kind == "rule_change"]
    assert (queued.recipient, queued.status, queued.details["reasons"]) == ("dana@example.org", "queued", ["training_hours_short"])
    assert flush(app)["sent"] == 1 and len(smtp.inbox.to("dana@example.org")) == 1


def test_a_scheduler_started_after_a_missed_run_catches_up_at_once(app, people):
    from registry.alerts.scheduler import build_scheduler, missed_daily_run

    app.config.update(ALERT_RUN_AT=(6, 0), ALERT_TIMEZONE="UTC")
    assert "catch-up" in {job.id for job in build_scheduler(app).get_jobs()}  # never ran
    with time_machine.travel(datetime(2026, 11, 27, 7, 0, tzinfo=timezone.utc), tick=False):
        run(app)  # today's run, after 06:00
        assert not missed_daily_run(app)
        assert "catch-up" not in {job.id for job in build_scheduler(app).get_jobs()}
    assert not missed_daily_run(app, datetime(2026, 11, 28, 5, 59, tzinfo=timezone.utc))
    assert missed_daily_run(app, datetime(2026, 11, 28, 6, 1, tzinfo=timezone.utc))

"""Authentication: the password policy, lockout, the TOTP second factor, session cookies,
sessions ended by sign-out, password change and time, and the audit of all of it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pyotp
import pytest
from sqlalchemy import select

from registry import create_app
from registry.accounts.models import User
from registry.accounts.passwords import password_problem
from registry.audit.models import AuditEvent
from registry.extensions import db
from tests.conftest import PASSWORD, app_config, dispose

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def text_of(response) -> str:
    return response.get_data(as_text=True)


def sign_in(client, email, password=PASSWORD):
    return client.post("/login", data={"email": email, "password": password})


def actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def user(app, email) -> User:
    with app.app_context():
        found = db.session.scalars(select(User).where(User.email == email)).one()
        db.session.expunge(found)
        return found


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("eleven char", "at least 12 characters"),
        ("q1w2e3r4t5y6", "most common passwords"),
        ("  Q1W2E3R4T5Y6 ", "most common passwords"),
        ("x" * 257, "at most 256 characters"),
    ],
)
def test_refused_passwords(password, problem):
    assert problem in password_problem(password)


@pytest.mark.parametrize("password", [PASSWORD, "a" * 12, "é" * 256, "no rules at all here"])
def test_accepted_passwords(password):
    assert password_problem(password) is None


def test_cli_refuses_a_common_password_naming_the_field(app, runner):
    result = runner.invoke(args=["users", "create", "ann@example.org", "--role", "biller", "--password", "1qaz2wsx3edc"])
    assert result.exit_code == 2
    assert "password" in result.output and "most common passwords" in result.output


def test_change_password_ends_other_sessions(app, make_user):
    make_user("biller")
    here, elsewhere = app.test_client(), app.test_client()
    sign_in(here, "biller@example.org")
    sign_in(elsewhere, "biller@example.org")

    short = here.post("/account/password", data={"current_password": PASSWORD, "new_password": "too short", "confirm": "too short"})
    assert short.status_code == 400 and 'id="new_password-error"' in text_of(short) and "at least 12" in text_of(short)
    wrong = here.post("/account/password", data={"current_password": "not my password", "new_password": "a new long passphrase", "confirm": "a new long passphrase"})
    assert wrong.status_code == 400 and 'id="current_password-error"' in text_of(wrong)
    assert here.get("/account").status_code == 200 and elsewhere.get("/account").status_code == 200

    done = here.post("/account/password", data={"current_password": PASSWORD, "new_password": "a new long passphrase", "confirm": "a new long passphrase"})
    assert done.status_code == 302
    assert here.get("/account").status_code == 200
    assert elsewhere.get("/account").status_code == 302  # to the sign-in page
    assert sign_in(app.test_client(), "biller@example.org").status_code == 401
    assert sign_in(app.test_client(), "biller@example.org", "a new long passphrase").status_code == 302
    assert "auth.password_change" in actions(app)


def test_lockout_after_repeated_failures_then_unlock(app, client, make_user, time_machine):
    time_machine.move_to(START, tick=False)
    make_user("clinician")
    for _ in range(4):
        assert sign_in(client, "clinician@example.org", "wrong password!").status_code == 401
    assert user(app, "clinician@example.org").failed_logins == 4
    fifth = sign_in(client, "clinician@example.org", "wrong password!")
    locked = sign_in(client, "clinician@example.org")  # the right password, but locked
    unknown = sign_in(client, "nobody@example.org", "wrong password!")
    assert fifth.status_code == locked.status_code == unknown.status_code == 401
    assert text_of(fifth) == text_of(locked) == text_of(unknown).replace("nobody@", "clinician@")
    assert "not correct" in text_of(locked)
    assert user(app, "clinician@example.org").locked_until == START + timedelta(minutes=15)

    time_machine.move_to(START + timedelta(minutes=14), tick=False)
    assert sign_in(client, "clinician@example.org").status_code == 401
    time_machine.move_to(START + timedelta(minutes=15, seconds=1), tick=False)
    assert sign_in(client, "clinician@example.org").status_code == 302
    assert user(app, "clinician@example.org").failed_logins == 0
    assert actions(app)[-10:] == ["auth.login_failed"] * 5 + ["auth.locked", "auth.login_failed", "auth.login_failed", "auth.login_failed", "auth.login"]


def test_lockout_limits_come_from_the_configuration(database_url, app, make_user):
    strict = create_app(app_config(database_url, LOGIN_MAX_FAILURES=2, LOGIN_LOCKOUT_MINUTES=60))
    make_user("auditor")
    client = strict.test_client()
    sign_in(client, "auditor@example.org", "wrong password!")
    sign_in(client, "auditor@example.org", "wrong password!")
    assert sign_in(client, "auditor@example.org").status_code == 401
    locked_until = user(strict, "auditor@example.org").locked_until
    dispose(strict)
    assert timedelta(minutes=59) < locked_until - datetime.now(timezone.utc) <= timedelta(minutes=60)


def test_the_audit_holds_no_password_or_code(app, client, make_user):
    make_user("manager")
    sign_in(client, "manager@example.org", "wrong password!")
    sign_in(client, "ghost@example.org", "ghost password!")
    sign_in(client, "manager@example.org")
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("auth.%"))).all()
        assert [(e.action, e.actor, e.entity_key, (e.after or {}).get("reason")) for e in events] == [
            ("auth.login_failed", "manager@example.org", "1", "wrong password"),
            ("auth.login_failed", "ghost@example.org", "unknown", "unknown email"),
            ("auth.login", "manager@example.org", "1", None),
        ]
        assert not any("password!" in repr((e.before, e.after, e.reason)) for e in events)


def _enable_totp(client) -> pyotp.TOTP:
    page = text_of(client.get("/account/totp"))
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    assert f"otpauth://totp/Needle%20Registry:manager%40example.org?secret={secret}" in page
    assert "<svg" in page
    totp = pyotp.TOTP(secret)
    wrong = client.post("/account/totp", data={"code": "000000" if totp.now() != "000000" else "111111"})
    assert wrong.status_code == 400 and "does not match" in text_of(wrong)
    assert client.post("/account/totp", data={"code": totp.now()}).status_code == 302
    return totp


def test_totp_two_step_sign_in_single_use_codes_and_disable(app, client, make_user, time_machine):
    time_machine.move_to(START, tick=False)
    make_user("manager")
    sign_in(client, "manager@example.org")
    totp = _enable_totp(client)
    assert "On: signing in asks for a code" in text_of(client.get("/account"))
    client.post("/logout")

    time_machine.move_to(START + timedelta(seconds=60), tick=False)
    first = sign_in(client, "manager@example.org")
    assert first.status_code == 302 and first.headers["Location"] == "/login/code"
    assert client.get("/account").status_code == 302  # not signed in before the code
    assert client.post("/login/code", data={"code": "12345"}).status_code == 401
    code = totp.now()
    assert client.post("/login/code", data={"code": code}).status_code == 302
    assert client.get("/account").status_code == 200
    client.post("/logout")

    sign_in(client, "manager@example.org")
    reused = client.post("/login/code", data={"code": code})
    assert reused.status_code == 401 and "used already" in text_of(reused)
    previous_step = totp.at(START + timedelta(seconds=30))  # within tolerance, but older than the one used
    assert client.post("/login/code", data={"code": previous_step}).status_code == 401
    next_step = totp.at(START + timedelta(seconds=90))  # one step ahead: clock drift is tolerated
    assert client.post("/login/code", data={"code": next_step}).status_code == 302

    assert client.post("/account/totp/disable", data={"password": "wrong password!"}).status_code == 400
    assert client.post("/account/totp/disable", data={"password": PASSWORD}).status_code == 302
    client.post("/logout")
    assert sign_in(client, "manager@example.org").headers["Location"] == "/"
    assert [a for a in actions(app) if a.startswith("auth.totp")] == ["auth.totp_enable", "auth.totp_disable"]


def test_code_step_expires_and_wrong_codes_lock(app, client, make_user, time_machine):
    time_machine.move_to(START, tick=False)
    make_user("manager")
    sign_in(client, "manager@example.org")
    _enable_totp(client)
    client.post("/logout")
    sign_in(client, "manager@example.org")
    time_machine.move_to(START + timedelta(minutes=6), tick=False)
    late = client.get("/login/code")
    assert late.status_code == 302 and late.headers["Location"] == "/login"

    sign_in(client, "manager@example.org")
    for _ in range(5):
        client.post("/login/code", data={"code": "000000"})
    assert user(app, "manager@example.org").locked_until is not None
    assert "auth.locked" in actions(app)


def test_managers_can_be_required_to_set_up_totp(database_url, app, make_user):
    strict = create_app(app_config(database_url, REQUIRE_MANAGER_TOTP=True))
    make_user("manager")
    make_user("clinician")
    manager, clinician = strict.test_client(), strict.test_client()
    sign_in(manager, "manager@example.org")
    sign_in(clinician, "clinician@example.org")
    assert manager.get("/providers").headers["Location"] == "/account/totp"
    assert manager.get("/api/v1/rules").status_code == 403
    assert clinician.get("/account").status_code == 200
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', text_of(manager.get("/account/totp"))).group(1)
    manager.post("/account/totp", data={"code": pyotp.TOTP(secret).now()})
    assert manager.get("/providers").status_code == 200
    dispose(strict)


def _cookie_name(app) -> str:
    return app.config["SESSION_COOKIE_NAME"]


def test_session_cookie_flags(database_url, app, make_user):
    make_user("biller")
    plain = sign_in(app.test_client(), "biller@example.org")
    cookie = plain.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    https = create_app(app_config(database_url, SESSION_COOKIE_SECURE=True))
    secure = sign_in(https.test_client(), "biller@example.org")
    assert "; Secure" in secure.headers["Set-Cookie"]
    dispose(https)


def test_sign_in_starts_a_new_session(app, client, make_user):
    make_user("biller")
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    sign_in(client, "biller@example.org")
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == f"{user(app, 'biller@example.org').id}:1"


def test_old_cookie_is_refused_after_sign_out(app, client, make_user):
    make_user("auditor")
    sign_in(client, "auditor@example.org")
    stolen = client.get_cookie(_cookie_name(app)).value
    assert client.post("/logout").status_code == 302
    assert client.get("/account").status_code == 302
    client.set_cookie(_cookie_name(app), stolen)
    replay = client.get("/account")
    assert replay.status_code == 302 and replay.headers["Location"].startswith("/login")
    assert actions(app)[-1] == "auth.logout"


def test_inactivity_and_absolute_timeouts(app, client, make_user, time_machine):
    time_machine.move_to(START, tick=False)
    make_user("clinician")
    sign_in(client, "clinician@example.org")
    time_machine.move_to(START + timedelta(minutes=29), tick=False)
    assert client.get("/account").status_code == 200
    time_machine.move_to(START + timedelta(minutes=60), tick=False)  # 31 minutes idle
    assert client.get("/account").status_code == 302
    assert "Your session has ended" in text_of(client.get("/login"))

    sign_in(client, "clinician@example.org")
    moment = START + timedelta(minutes=60)
    for _ in range(60):  # active every 15 minutes, until the session ends
        moment += timedelta(minutes=15)
        time_machine.move_to(moment, tick=False)
        if client.get("/account").status_code != 200:
            break
    assert moment - (START + timedelta(minutes=60)) == timedelta(hours=12, minutes=15)

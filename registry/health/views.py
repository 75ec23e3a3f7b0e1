"""``GET /healthz`` (the database answers) and ``GET /readyz`` (and the schema is current and
the rules are loaded): JSON, 200 when every check passes, 503 otherwise, never cached. Open to
anyone: they name no data, only whether this worker can serve."""

from __future__ import annotations

from flask import Blueprint, jsonify

from registry.extensions import db
from registry.health import services

bp = Blueprint("health", __name__)


def _answer(checks: list[services.Check]):
    ok = all(check.ok for check in checks)
    body = {"status": "ok" if ok else "unavailable", "checks": {check.name: check.as_dict() for check in checks}}
    response = jsonify(body)
    response.status_code = 200 if ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz():
    return _answer(services.health(db.session))


@bp.get("/readyz")
def readyz():
    return _answer(services.readiness(db.session))

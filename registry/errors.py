"""Refused input, the HTML error pages for the browser-facing routes, and the answer when the
database is unavailable.

Database unavailable (the server is down or restarting, the connection was cut, the pool is
exhausted): a 503 with ``Retry-After`` and a plain message, JSON under ``/api/`` and an HTML page
elsewhere, never a 500; the request's session is rolled back first, so the worker's next request
starts clean (``pool_pre_ping`` then replaces the dead connections once the database is back).
``init_app`` registers the handler; without it, ``render_html_error`` still turns the 500 of an
HTML page whose cause was such an error into the 503 page (the JSON API needs ``init_app``).
"""

from __future__ import annotations

import logging

from flask import jsonify, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class InputError(Exception):
    """Input the domain refuses. ``field`` names the input at fault, so a form, the JSON API
    or an importer can attach the message to it. Each feature subclasses it."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


_TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Changed by someone else",
    413: "Upload too large",
    422: "Could not process that input",
    429: "Too many requests",
    500: "Something went wrong on our side",
    503: "Database unavailable",
}


def render_html_error(error: HTTPException):
    code = error.code or 500
    original = getattr(error, "original_exception", None)
    if code == 500 and original is not None and is_database_unavailable(original):
        return database_unavailable(original)
    if isinstance(error, CSRFError):
        message = "Your form had expired or was sent without its security token. Reload the page and try again."
    elif code >= 500:
        message = "The error has been logged. Please try again; if it persists, tell your administrator."
    else:
        message = error.description
    body = render_template(
        "errors/error.html", code=code, title=_TITLES.get(code, error.name), message=message
    )
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    return body, code, headers


# --- database unavailable ----------------------------------------------------------------------
#: seconds a client is asked to wait before trying again (a restart takes a few seconds)
RETRY_AFTER_SECONDS = 5
UNAVAILABLE_MESSAGE = (
    "The database is unavailable for a moment (it may be restarting), so this request could not "
    "be completed. Please try again in a few seconds; if you were saving a change, check whether "
    "it was saved before making it again."
)

#: errors that mean "cannot reach the database now", whatever the statement: the server is
#: down, restarting or refusing connections, the connection was cut, the pool is exhausted
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # no pooled connection free within pool_timeout
)
try:  # the driver's own classes, should one escape SQLAlchemy's wrapping
    import psycopg

    _UNAVAILABLE += (psycopg.OperationalError, psycopg.InterfaceError)
except ImportError:  # pragma: no cover - psycopg is a dependency
    pass


def is_database_unavailable(error: BaseException) -> bool:
    if isinstance(error, _UNAVAILABLE):
        return True
    # any other DBAPI error raised because the connection died (SQLAlchemy flags it)
    return isinstance(error, sa_exc.DBAPIError) and bool(error.connection_invalidated)


def first_line(error: BaseException) -> str:
    """The driver's first line, without the SQL or the connection string (it may carry a
    password); for logs and the health checks."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {lines[0] if lines else ''}"[:300]


# a page of its own, not errors/error.html and not through Jinja: base.html and Flask-Login's
# template context ask for the signed-in user, which would need the database that just failed
_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} · Needle Registry</title>
  <link rel="stylesheet" href="{css}">
</head>
<body>
  <main id="main">
    <section class="error">
      <h1>{title} <span class="code">(503)</span></h1>
      <p>{message}</p>
      <p><a href="{again}">Try again</a></p>
    </section>
  </main>
</body>
</html>
"""


def _page() -> str:
    again = request.full_path.rstrip("?") if request.method == "GET" else url_for("rules.home")
    return _PAGE.format(title=escape(_TITLES[503]), message=escape(UNAVAILABLE_MESSAGE),
                        css=escape(url_for("static", filename="css/app.css")), again=escape(again))


def _release(close: bool = False) -> None:
    """Roll the request's session back (``close``: close it, as Flask-SQLAlchemy would, which
    rolls back and detaches without expiring anything); when the connection died meanwhile,
    drop it instead (invalidated: the pool opens a new one when the database is back)."""
    from registry.extensions import db

    try:
        db.session.close() if close else db.session.rollback()
    except Exception as error:
        if not is_database_unavailable(error):
            raise
        log.warning("database unavailable%s: %s", f" ({request.method} {request.path})" if request else "", first_line(error))
        try:
            db.session().invalidate()  # the scoped session does not proxy invalidate()
        except Exception as again:  # noqa: BLE001 - nothing more to release
            log.debug("invalidating the session failed: %s", first_line(again))


def _end_of_context(_error: BaseException | None) -> None:
    """Close the session just before Flask-SQLAlchemy does (app-context teardowns run
    last-registered first, and ``init_app`` comes after ``db.init_app``), so that a connection
    the database closed during the request (a restart, an administrator's shutdown) does not
    turn an answered request into a 500 at its very end."""
    _release(close=True)


def database_unavailable(error: BaseException):
    """503, ``Retry-After``, a plain message: JSON under ``/api/``, an HTML page elsewhere.
    Rolls the request's session back first."""
    from registry.api_base import is_api_request

    _release()
    log.warning("database unavailable: %s %s: %s", request.method, request.path, first_line(error))
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    if is_api_request():
        response = jsonify({"code": 503, "status": "Service Unavailable", "message": UNAVAILABLE_MESSAGE})
        response.status_code = 503
        response.headers.update(headers)
        return response
    return _page(), 503, headers | {"Content-Type": "text/html; charset=utf-8"}


def _handle_dbapi_error(error: sa_exc.DBAPIError):
    """Registered for every DBAPI error: a dropped connection is a 503, anything else (an
    integrity error, a bug) goes on to the usual 500."""
    if is_database_unavailable(error):
        return database_unavailable(error)
    raise error


def init_app(app) -> None:
    """Answer 503 (not 500) when the database is unavailable, on every route. Call it after
    ``db.init_app``. Calling it again changes nothing."""
    if _end_of_context in app.teardown_appcontext_funcs:
        return
    for kind in _UNAVAILABLE:
        app.register_error_handler(kind, database_unavailable)
    app.register_error_handler(sa_exc.DBAPIError, _handle_dbapi_error)
    app.teardown_appcontext(_end_of_context)

"""Logging: plain text or one JSON object per line, and one log line per request.

Settings (read here from the environment; ``create_app(config=...)`` may override either):

* ``LOG_FORMAT``: ``text`` (the default in development) or ``json`` (the default when
  ``REGISTRY_ENV=production``): one JSON object per line on stderr with ``time`` (ISO-8601,
  UTC), ``level``, ``logger``, ``message``, ``pid``, the ``request_id`` of the request being
  served, and ``traceback`` when an exception is logged.
* ``LOG_LEVEL``: ``DEBUG``, ``INFO`` (default), ``WARNING``, ``ERROR`` or ``CRITICAL``.

A bad value stops the start with a ``ValueError`` naming the variable.

Every request gets an id: the caller's ``X-Request-ID`` header when it is a sane one
(at most :data:`MAX_REQUEST_ID` characters of letters, digits and ``-_.:=+/@``), otherwise a new
random one. It is echoed in the ``X-Request-ID`` response header and attached to every log
record written while the request is served. After each request, the logger
``registry.request`` writes one line: ``request_id``, ``method``, ``path`` (never the query
string: it may carry tokens or personal data), ``status``, ``duration_ms``, ``remote_addr``
(the client's, through ``BEHIND_PROXY``) and ``actor`` (``user:12``, ``token:5`` or
``anonymous``; never an email). That line replaces gunicorn's access log, which
``gunicorn.conf.py`` switches off in JSON mode.

Handlers: outside tests, ``configure`` puts one handler on the root logger writing to stderr,
unless the root logger already has handlers (gunicorn's ``logconfig_dict`` in JSON mode, or an
operator's own logging configuration), which are then kept. A testing app installs no handler
and changes no logger level: pytest's ``caplog`` sees the records.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from flask import Flask, g, has_request_context, request

FORMATS = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: the longest incoming X-Request-ID kept; a longer or odd one is replaced by a new id
MAX_REQUEST_ID = 128
_REQUEST_ID = re.compile(r"[A-Za-z0-9\-_.:=+/@]{1,%d}" % MAX_REQUEST_ID)
#: paths are cut to this length in the request log (a client chooses them)
MAX_PATH = 1000
REQUEST_HEADER = "X-Request-ID"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

request_log = logging.getLogger("registry.request")

#: attributes every LogRecord has; anything else on a record was passed as ``extra``
_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}
#: request fields the text format appends to the message, in this order
_TEXT_FIELDS = ("request_id", "actor", "remote_addr")


# --- settings ---------------------------------------------------------------------------------
def log_format(environ: Mapping[str, str] | None = None, override: str | None = None, registry_env: str | None = None) -> str:
    """``LOG_FORMAT``: ``override`` (an app config value) wins over ``environ`` (default
    ``os.environ``); the default is ``json`` in production, ``text`` otherwise."""
    environ = os.environ if environ is None else environ
    if registry_env is None:
        registry_env = environ.get("REGISTRY_ENV", "development")
    default = "json" if registry_env.strip().lower() == "production" else "text"
    raw = override if override is not None else environ.get("LOG_FORMAT", default)
    value = str(raw).strip().lower()
    if value not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)} (got {raw!r}).")
    return value


def log_level(environ: Mapping[str, str] | None = None, override: str | None = None) -> str:
    """``LOG_LEVEL`` (default ``INFO``), upper-cased and checked."""
    environ = os.environ if environ is None else environ
    raw = override if override is not None else environ.get("LOG_LEVEL", "INFO")
    value = str(raw).strip().upper()
    if value not in LEVELS:
        raise ValueError(f"LOG_LEVEL must be one of {', '.join(LEVELS)} (got {raw!r}).")
    return value


# --- formatters -------------------------------------------------------------------------------
def _current_request_id() -> str | None:
    if has_request_context():
        return g.get("request_id")
    return None


def _iso_utc(created: float) -> str:
    return datetime.fromtimestamp(created, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines and non-ASCII escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _iso_utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        request_id = getattr(record, "request_id", None) or _current_request_id()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_") and key not in entry:
                entry[key] = value
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = self.formatException(record.exc_info)
            exc_type, exc_value = record.exc_info[0], record.exc_info[1]
            if exc_type is not None:
                entry["exception"] = f"{exc_type.__name__}: {exc_value}"[:1000]
        if record.exc_text:
            entry["traceback"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger message``, with the request id (and, on request lines, the actor and
    client address) after the message."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)
        fields = {name: getattr(record, name, None) for name in _TEXT_FIELDS}
        if not fields["request_id"]:
            fields["request_id"] = _current_request_id()
        extra = " ".join(f"{name}={value}" for name, value in fields.items() if value)
        return f"{text} {extra}" if extra else text


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else TextFormatter()


def gunicorn_logconfig(fmt: str, level: str, *, errorlog: str = "-", accesslog: str | None = None, gunicorn_level: str = "info") -> dict:
    """A ``logconfig_dict`` for gunicorn: its error log (and its access log, when one is asked
    for) and the root logger, in ``fmt``. ``-`` is stderr for the error log and stdout for the
    access log, as in gunicorn; anything else is a file."""

    def handler(target: str, stream: str) -> dict:
        if target == "-":
            return {"class": "logging.StreamHandler", "formatter": fmt, "stream": stream}
        return {"class": "logging.FileHandler", "formatter": fmt, "filename": target}

    handlers = {"error": handler(errorlog, "ext://sys.stderr")}
    if accesslog is not None:
        handlers["access"] = handler(accesslog, "ext://sys.stdout")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        # the classes themselves, not their dotted names: gunicorn's master must not import
        # the registry package (see gunicorn.conf.py)
        "formatters": {"json": {"()": JsonFormatter}, "text": {"()": TextFormatter}},
        "handlers": handlers,
        "root": {"level": level, "handlers": ["error"]},
        "loggers": {
            "gunicorn.error": {"level": gunicorn_level.upper(), "handlers": ["error"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["access"] if accesslog is not None else [], "propagate": False},
            # seven lines of "setup plugin ..." from every new worker, at INFO
            "alembic.runtime.plugins": {"level": "WARNING"},
        },
    }


# --- request ids and the request log ----------------------------------------------------------
def new_request_id() -> str:
    return uuid.uuid4().hex


def clean_request_id(value: str | None) -> str | None:
    """The caller's request id when it is safe to log and echo, else None."""
    if value is None:
        return None
    value = value.strip()
    return value if _REQUEST_ID.fullmatch(value) else None


def request_id() -> str:
    """This request's id (chosen on first use)."""
    if "request_id" not in g:
        g.request_id = clean_request_id(request.headers.get(REQUEST_HEADER)) or new_request_id()
    return g.request_id


def _identity(obj: Any) -> Any:
    """The primary key of a loaded row without a query (the row may be expired after the
    view's commit, and reading ``obj.id`` would load it again)."""
    from sqlalchemy import inspect

    state = inspect(obj, raiseerr=False)
    if state is not None and state.identity:
        return state.identity[0]
    return None


def actor_label() -> str:
    """``token:<id>`` for a request authenticated by an API token, ``user:<id>`` for a
    signed-in user whom the request loaded, else ``anonymous``. Never an email, never a query."""
    try:
        token = g.get("api_token")
        if token is not None:
            ident = _identity(token)
            if ident is not None:
                return f"token:{ident}"
        user = g.get("_login_user")  # Flask-Login's per-request cache; None until looked up
        # is_anonymous, not is_authenticated: the latter reads is_enabled, which the view's
        # commit expired, so asking would load the user again (on SQLite, take the write lock)
        if user is not None and not getattr(user, "is_anonymous", True):
            ident = _identity(user)
            if ident is not None:
                return f"user:{ident}"
    except Exception:  # a label must never break a request
        return "unknown"
    return "anonymous"


def install_record_factory() -> None:
    """Every log record created while a request is served carries its ``request_id``, whichever
    handler (ours, gunicorn's, pytest's) formats it, and whenever. Installed once per process."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_registry_factory", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if has_request_context():
            rid = g.get("request_id")
            if rid is not None:
                record.request_id = rid
        return record

    factory._registry_factory = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def _start_request() -> None:
    g.request_started = time.perf_counter()
    request_id()


def _echo_request_id(response):
    response.headers[REQUEST_HEADER] = request_id()
    g.response_status = response.status_code
    return response


def _log_request(error: BaseException | None) -> None:
    status = g.get("response_status") or 500  # no response: it failed on its way out
    level = logging.WARNING if status >= 500 else logging.INFO
    if not request_log.isEnabledFor(level):
        return
    started = g.get("request_started")
    duration = round(1000 * (time.perf_counter() - started), 1) if started is not None else None
    path = request.path[:MAX_PATH]
    request_id()  # the record factory adds it to the record
    fields = {
        "method": request.method,
        "path": path,
        "status": status,
        "duration_ms": duration,
        "remote_addr": request.remote_addr,
        "actor": actor_label(),
    }
    request_log.log(level, "%s %s %s %sms", request.method, path, status, duration, extra=fields)


def init_request_logging(app: Flask) -> None:
    # the first before_request of all, so the duration covers every other one (a refused
    # CSRF token or a rate limit included) and the id exists before anything logs
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    app.after_request(_echo_request_id)
    app.teardown_request(_log_request)


# --- handlers ---------------------------------------------------------------------------------
def _ours(handler: logging.Handler) -> bool:
    return getattr(handler, "_registry_handler", False)


def install_handler(fmt: str, level: str) -> None:
    """The root logger writes ``fmt`` to stderr at ``level``. A handler configured by someone
    else (gunicorn's logconfig_dict, pytest, the operator) is kept; ours is never doubled."""
    root = logging.getLogger()
    root.setLevel(level)
    mine = [h for h in root.handlers if _ours(h)]
    if mine:
        for handler in mine:
            handler.setFormatter(formatter(fmt))
        return
    if root.handlers:
        return
    handler = logging.StreamHandler()  # sys.stderr
    handler.setFormatter(formatter(fmt))
    handler._registry_handler = True  # type: ignore[attr-defined]
    root.addHandler(handler)


def configure(app: Flask) -> None:
    """Read and check the settings, log each request, and (outside tests) install the handler."""
    fmt = log_format(override=app.config.get("LOG_FORMAT"), registry_env=app.config.get("REGISTRY_ENV"))
    level = log_level(override=app.config.get("LOG_LEVEL"))
    app.config["LOG_FORMAT"], app.config["LOG_LEVEL"] = fmt, level
    install_record_factory()
    init_request_logging(app)
    if app.testing:
        return
    install_handler(fmt, level)
    # Flask's own handler on app.logger would print every logged exception a second time
    from flask.logging import default_handler

    app.logger.removeHandler(default_handler)

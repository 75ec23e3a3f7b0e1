"""gunicorn settings for Needle Registry: ``gunicorn -c gunicorn.conf.py``.

Every value can be changed by an environment variable (listed in docs/operations.md) without
editing this file. Each worker builds its own app and its own database pool after the fork
(no ``preload_app``), so no connection is ever shared between processes. The alert scheduler
is NOT started here: run ``flask alerts scheduler`` as one separate process.
"""

import importlib.util
import multiprocessing
import os

wsgi_app = "registry.wsgi:app"

# where to listen; behind a TLS proxy keep it on loopback or a private address
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# sync workers: one request at a time each, so a worker holds at most one database
# connection in use; the usual 2 x cores + 1
workers = int(os.environ.get("WEB_CONCURRENCY", str(multiprocessing.cpu_count() * 2 + 1)))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = int(os.environ.get("GUNICORN_THREADS", "1"))

# a request that takes longer is killed and logged (batch coding checks of 10,000 visits take
# a few seconds); graceful_timeout lets a running request finish on restart
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))

# recycle workers now and then (bounded memory growth), staggered so they do not all restart at once
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "200"))

# logs to stdout/stderr for the process supervisor to collect. LOG_FORMAT (text, or json, the
# default when REGISTRY_ENV=production) and LOG_LEVEL are the app's (registry/logs.py). The app
# writes one line per request itself (request id, user, no query string), so in JSON mode
# gunicorn's access log is off unless GUNICORN_ACCESS_LOG names a file or "-" (stdout), and
# gunicorn's own messages are JSON lines too; GUNICORN_ACCESS_LOG=off switches it off in text mode.
# registry/logs.py is loaded from its file, not as ``registry.logs``: importing the package
# here would load the app's code into the master, and workers forked after a reload (HUP)
# would keep running the old code
_spec = importlib.util.spec_from_file_location("registry_logs_for_gunicorn", os.path.join(os.path.dirname(os.path.abspath(__file__)), "registry", "logs.py"))
_logs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_logs)

_log_format = _logs.log_format(os.environ)
_log_level = _logs.log_level(os.environ)
_access = os.environ.get("GUNICORN_ACCESS_LOG")
if _access is None:
    accesslog = None if _log_format == "json" else "-"
elif _access.strip().lower() in ("", "off", "none", "0"):
    accesslog = None
else:
    accesslog = _access.strip()
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
if _log_format == "json":
    logconfig_dict = _logs.gunicorn_logconfig("json", _log_level, errorlog=errorlog, accesslog=accesslog, gunicorn_level=loglevel)

# gunicorn's control socket (gunicornc) sits at one fixed path per user, so two servers on one
# host would fight over it: off unless GUNICORN_CONTROL_SOCKET names a path for this server
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if not control_socket_disable:
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]

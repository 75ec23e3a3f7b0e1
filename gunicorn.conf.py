"""gunicorn settings for Needle Registry: ``gunicorn -c gunicorn.conf.py``.

Every value can be changed by an environment variable (listed in docs/operations.md) without
editing this file. Each worker builds its own app and its own database pool after the fork
(no ``preload_app``), so no connection is ever shared between processes. The alert scheduler
is NOT started here: run ``flask alerts scheduler`` as one separate process.
"""

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

# logs to stdout/stderr for the process supervisor to collect
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")

# gunicorn's control socket (gunicornc) sits at one fixed path per user, so two servers on one
# host would fight over it: off unless GUNICORN_CONTROL_SOCKET names a path for this server
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if not control_socket_disable:
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]

"""The WSGI app bench/gate.py serves under gunicorn: the real app, plus one hello-world route.

``gunicorn --pythonpath bench gate_wsgi:app`` with ``DATABASE_URL`` and ``SECRET_KEY`` set, as
in production. ``GET /bench/hello`` is the smallest Flask endpoint there is (no database, no
session, no schema): the same server, workers and client, so that the coding check's figures
can be read against it. Only for the benchmark; the app itself has no such route.
"""

from __future__ import annotations

from registry import create_app

app = create_app()


@app.get("/bench/hello")
def bench_hello():
    return {"hello": "world"}

"""The WSGI app bench/gate.py and bench/pages.py serve under gunicorn: the real app, plus two
baseline routes.

``gunicorn --pythonpath bench gate_wsgi:app`` with ``DATABASE_URL`` and ``SECRET_KEY`` set, as
in production. ``GET /bench/hello`` is the smallest Flask endpoint there is (no database, no
session, no schema), and ``GET /bench/page`` the smallest HTML page (no stylesheet, script or
image): the same server, workers and client, so that the coding check's figures and the
pages' load times can be read against them. Only for the benchmarks; the app itself has no
such routes.
"""

from __future__ import annotations

from registry import create_app

app = create_app()

MINIMAL_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Needle Registry: bench</title></head>
<body><h1>Needle Registry</h1><p>The smallest page the server gives.</p></body></html>
"""


@app.get("/bench/hello")
def bench_hello():
    return {"hello": "world"}


@app.get("/bench/page")
def bench_page():
    return MINIMAL_PAGE

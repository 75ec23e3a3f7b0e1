"""The load test's helpers: a private PostgreSQL instance, gunicorn, the generated population,
the locustfile and the reading of its results (see tests/test_load.py)."""

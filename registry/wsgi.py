"""The WSGI entry point for a production server: ``gunicorn -c gunicorn.conf.py`` (which names
``registry.wsgi:app``). Configuration comes from the environment (README, docs/operations.md)."""

from registry import create_app

app = create_app()

"""Provider pages (filled in below)."""

from __future__ import annotations

from flask import Blueprint

from registry.providers import models  # noqa: F401  (registers the tables)

bp = Blueprint("providers", __name__)

"""The outbox page's buttons (each a form, for its CSRF token)."""

from __future__ import annotations

from registry.forms_base import RegistryForm


class ActionForm(RegistryForm):
    """A button that posts: nothing to fill in but the CSRF token."""

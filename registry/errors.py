"""Refused input, and the HTML error pages for the browser-facing routes."""

from __future__ import annotations

from flask import render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


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
}


def render_html_error(error: HTTPException):
    code = error.code or 500
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

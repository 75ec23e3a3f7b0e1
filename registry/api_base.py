"""The flask-smorest ``Api``, adjusted for an app that serves HTML pages too.

flask-smorest registers one app-wide ``HTTPException`` handler that answers JSON everywhere
and drops the exception's own headers (a 405 loses ``Allow``). Here JSON errors stay under
``/api/`` and keep their headers; every other path gets the HTML error page.
"""

from __future__ import annotations

from flask import request
from flask_smorest import Api, Blueprint
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException


def is_api_request() -> bool:
    return request.path.startswith("/api/")


class RegistryApi(Api):
    def handle_http_exception(self, error: HTTPException):
        if not is_api_request():
            from registry.errors import render_html_error

            return render_html_error(error)
        payload, code, headers = super().handle_http_exception(error)
        payload.setdefault("message", error.description)
        merged = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        merged.update(headers or {})
        return payload, code, merged


class _Parser(FlaskParser):
    """webargs's parser, but a body Python's json module chokes on beyond a syntax error (an
    integer of more than 4,300 digits, nesting too deep) is a 400 like any invalid JSON."""

    def load_json(self, req, schema):
        try:
            return super().load_json(req, schema)
        except (ValueError, RecursionError) as error:
            return self._handle_invalid_json_error(error, req)


#: flask-smorest's shared error responses, by status code
_ERROR_RESPONSES = {
    400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
    409: "CONFLICT", 422: "UNPROCESSABLE_ENTITY",
}


class RegistryBlueprint(Blueprint):
    """The flask-smorest Blueprint every API module uses."""

    ARGUMENTS_PARSER = _Parser()

    def errors(self, *codes: int):
        """Document the error responses an endpoint may give, e.g. ``@bp.errors(401, 404)``."""

        def decorator(func):
            for code in reversed(codes):
                func = self.alt_response(code, _ERROR_RESPONSES[code])(func)
            return func

        return decorator

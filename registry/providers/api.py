"""The providers JSON API: ``/api/v1/providers`` and each provider's credentials and history.

Authentication is the signed-in session (Flask-Login), whose writes need the CSRF token in the
``X-CSRFToken`` header as the HTML forms do, or an API token (``providers:read``,
``providers:write``), which needs none. Every write goes through
``registry.providers.services`` and each request is one transaction, committed at its end.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import NoReturn

from flask import url_for
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import abort
from marshmallow import RAISE
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from registry.accounts.access import ALL_ROLES, acts_for_organisation, current_actor, role_required
from registry.accounts.models import User
from registry.api_base import RegistryBlueprint
from registry.extensions import db
from registry.providers import services
from registry.providers.models import Provider
from registry.providers.npi import npi_problem
from registry.providers.schemas import (
    MAX_INT,
    EndCredentialInput,
    HistoryEventSchema,
    LicenseInput,
    LicensePatchInput,
    LicenseSchema,
    ProviderInput,
    ProviderPageSchema,
    ProviderPatchInput,
    ProviderSchema,
    ProvidersQueryArgs,
    RegistrationInput,
    RegistrationPatchInput,
    RegistrationSchema,
    TrainingInput,
    TrainingPatchInput,
    TrainingSchema,
)

bp = RegistryBlueprint(
    "providers_api",
    __name__,
    description=(
        "Providers (by NPI) and their licenses, training records and board registrations. "
        "Managers read and write; auditors and billers read every provider; a clinician reads "
        "only the provider linked to their own account (any other NPI answers 404). "
        "Writes with the signed-in session need the CSRF token in the X-CSRFToken header. "
        "An API token needs the providers:read scope to read and providers:write to write, "
        "and reads every provider. "
        "Edits carry the `version` read earlier: a stale one is refused with 409. "
        "Credentials are never deleted (there is no DELETE): ending one keeps the row with the "
        "day it ended and why, and every change is in the provider's history."
    ),
)

#: may read every provider; any other signed-in role (clinicians) reads only its own
READ_ALL_ROLES = ("manager", "auditor", "biller")
WRITE_ROLES = ("manager",)
#: the services' field names -> the API's
API_FIELDS = {"profession_code": "profession", "jurisdiction_code": "jurisdiction", "user_id": "user_email", "end_reason": "reason"}
#: credential kind -> URL segment and provider attribute
PLURALS = {"license": "licenses", "training": "trainings", "registration": "registrations"}


# --- helpers -------------------------------------------------------------------------------
def _refuse(exc: services.ProviderError) -> NoReturn:
    db.session.rollback()
    if isinstance(exc, services.StaleEditError):
        abort(409, message=exc.message, errors={"json": {"version": [exc.message]}})
    if isinstance(exc, services.NotFound):
        abort(404, message=exc.message)
    field = API_FIELDS.get(exc.field or "", exc.field) or "_schema"
    abort(422, message=exc.message, errors={"json": {field: [exc.message]}})


@contextmanager
def _saving():
    """One transaction: commit at the end, roll back and answer 4xx on a refusal."""
    try:
        yield
        db.session.commit()
    except services.ProviderError as exc:
        _refuse(exc)
    except StaleDataError:
        db.session.rollback()
        message = "This record was changed by someone else while you saved. Your change was not saved; reload and edit again."
        abort(409, message=message, errors={"json": {"version": [message]}})
    except IntegrityError:
        db.session.rollback()
        abort(409, message="A change saved at the same moment conflicts with this one (for example the same NPI or number). Reload and try again.")


def _may_read(provider: Provider) -> bool:
    if acts_for_organisation(*READ_ALL_ROLES):
        return True
    return provider.user_id is not None and provider.user_id == current_user.id


def provider_or_404(npi: str) -> Provider:
    problem = npi_problem(npi)
    if problem:
        abort(404, message=problem, errors={"npi": [problem]})
    provider = services.get_by_npi(npi)
    if provider is None or not _may_read(provider):  # the same answer: existence is not revealed
        abort(404, message=f"No provider with NPI {npi}.", errors={"npi": [f"No provider with NPI {npi}."]})
    return provider


def _credential_or_404(provider: Provider, kind: str, credential_id: int):
    credential = services.get_credential(kind, credential_id)
    if credential is None or credential.provider_id != provider.id:
        label = services.KIND_LABELS[kind]
        abort(404, message=f"Provider {provider.npi} has no {label} {credential_id}.")
    return credential


def _link_account(values: dict) -> dict:
    """``user_email`` -> the services' ``user_id`` (null or empty unlinks)."""
    if "user_email" not in values:
        return values
    email = (values.pop("user_email") or "").strip().lower()
    if not email:
        return {**values, "user_id": None}
    user = db.session.scalars(select(User).where(User.email == email)).first()
    if user is None:
        raise services.ProviderError(f"No account has the email {email}.", field="user_email")
    return {**values, "user_id": user.id}


def _matches(provider: Provider, args: dict) -> bool:
    """The search filters of ``services.search_providers``, applied to one provider."""
    text = (args.get("q") or "").strip()
    if text and text.lower() not in provider.name.lower() and not provider.npi.startswith(text):
        return False
    if args.get("profession_code") and provider.profession_code != args["profession_code"]:
        return False
    codes = {lic.jurisdiction_code for lic in provider.licenses}
    return not (args.get("jurisdiction_code") and args["jurisdiction_code"] not in codes)


def _location(npi: str) -> dict:
    return {"Location": url_for("providers_api.provider", npi=npi)}


# --- providers -----------------------------------------------------------------------------
@bp.route("/providers", endpoint="providers")
class Providers(MethodView):
    @role_required(*ALL_ROLES, scope="providers:read")
    @bp.arguments(ProvidersQueryArgs(), location="query", unknown=RAISE)
    @bp.response(200, ProviderPageSchema)
    @bp.errors(401)
    def get(self, args):
        """Providers by name, NPI, license jurisdiction and profession, a page at a time.

        Sorted by name. ``q`` matches part of the name or the start of the NPI. A clinician
        sees only the provider linked to their own account.
        """
        page, page_size = args.get("page", 1), args.get("page_size", 25)
        if acts_for_organisation(*READ_ALL_ROLES):
            result = services.search_providers(
                text=args.get("q", ""),
                jurisdiction=args.get("jurisdiction_code", ""),
                profession=args.get("profession_code", ""),
                page=page,
                per_page=page_size,
            )
            return {"items": result.items, "page": page, "page_size": page_size, "total": result.total, "pages": result.pages}
        own = services.provider_for_user(current_user.id)
        matching = [own] if own is not None and _matches(own, args) else []
        items = matching if page == 1 else []
        return {"items": items, "page": page, "page_size": page_size, "total": len(matching), "pages": math.ceil(len(matching) / page_size)}

    @role_required(*WRITE_ROLES, scope="providers:write")
    @bp.arguments(ProviderInput(), unknown=RAISE)
    @bp.response(201, ProviderSchema)
    @bp.errors(401, 403, 409)
    def post(self, values):
        """Add a provider (managers).

        ``user_email`` links the clinician's own account so they can read the record.
        """
        with _saving():
            provider = services.create_provider(_link_account(values), actor=current_actor())
        return provider, 201, _location(provider.npi)


@bp.route("/providers/<string:npi>", endpoint="provider")
class ProviderResource(MethodView):
    @role_required(*ALL_ROLES, scope="providers:read")
    @bp.response(200, ProviderSchema)
    @bp.errors(401, 404)
    def get(self, npi: str):
        """A provider with every credential (ended ones included) and today's training totals."""
        return provider_or_404(npi)

    @role_required(*WRITE_ROLES, scope="providers:write")
    @bp.arguments(ProviderPatchInput(), unknown=RAISE)
    @bp.response(200, ProviderSchema)
    @bp.errors(401, 403, 404, 409)
    def patch(self, values, npi: str):
        """Change some of a provider's fields (managers); ``version`` is required.

        A ``version`` other than the current one is refused with 409 naming the current one.
        """
        provider = provider_or_404(npi)
        version = values.pop("version")
        with _saving():
            services.update_provider(provider, _link_account(values), actor=current_actor(), expected_version=version)
        return provider


@bp.route("/providers/<string:npi>/history", endpoint="provider_history")
class ProviderHistory(MethodView):
    @role_required(*ALL_ROLES, scope="providers:read")
    @bp.response(200, HistoryEventSchema(many=True))
    @bp.errors(401, 404)
    def get(self, npi: str):
        """Every recorded change to the provider and their credentials, newest first."""
        return services.history(provider_or_404(npi).id)


# --- credentials ---------------------------------------------------------------------------
def _credential_routes(kind: str, input_schema, patch_schema, output_schema) -> None:
    """Register list/add, read/change and end for one credential kind."""
    plural = PLURALS[kind]
    label = services.KIND_LABELS[kind]
    id_rule = f"<int(max={MAX_INT}):credential_id>"

    class Collection(MethodView):
        @role_required(*ALL_ROLES, scope="providers:read")
        @bp.response(200, output_schema(many=True))
        @bp.errors(401, 404)
        def get(self, npi: str):
            return getattr(provider_or_404(npi), plural)

        @role_required(*WRITE_ROLES, scope="providers:write")
        @bp.arguments(input_schema(), unknown=RAISE)
        @bp.response(201, output_schema)
        @bp.errors(401, 403, 404, 409)
        def post(self, values, npi: str):
            provider = provider_or_404(npi)
            with _saving():
                credential = services.add_credential(kind, provider, values, actor=current_actor())
            headers = {"Location": url_for(f"providers_api.{kind}", npi=provider.npi, credential_id=credential.id)}
            return credential, 201, headers

    class Item(MethodView):
        @role_required(*ALL_ROLES, scope="providers:read")
        @bp.response(200, output_schema)
        @bp.errors(401, 404)
        def get(self, npi: str, credential_id: int):
            return _credential_or_404(provider_or_404(npi), kind, credential_id)

        @role_required(*WRITE_ROLES, scope="providers:write")
        @bp.arguments(patch_schema(), unknown=RAISE)
        @bp.response(200, output_schema)
        @bp.errors(401, 403, 404, 409)
        def patch(self, values, npi: str, credential_id: int):
            credential = _credential_or_404(provider_or_404(npi), kind, credential_id)
            version = values.pop("version")
            with _saving():
                services.update_credential(credential, values, actor=current_actor(), expected_version=version)
            return credential

    class End(MethodView):
        @role_required(*WRITE_ROLES, scope="providers:write")
        @bp.arguments(EndCredentialInput(), unknown=RAISE)
        @bp.response(200, output_schema)
        @bp.errors(401, 403, 404, 409)
        def post(self, values, npi: str, credential_id: int):
            credential = _credential_or_404(provider_or_404(npi), kind, credential_id)
            with _saving():
                services.end_credential(credential, ended_on=values["ended_on"], reason=values["end_reason"], actor=current_actor(), expected_version=values["version"])
            return credential

    Collection.get.__doc__ = f"The provider's {label}s, ended ones included."
    Collection.post.__doc__ = f"Add a {label} (managers)."
    Item.get.__doc__ = f"One {label} of the provider."
    Item.patch.__doc__ = (
        f"Change some fields of a {label} (managers); ``version`` is required.\n\n"
        "A ``version`` other than the current one is refused with 409 naming the current one."
    )
    End.post.__doc__ = (
        f"End a {label} (managers): it stops being held on ``ended_on``; the record is kept.\n\n"
        "Credentials are never deleted. ``version`` is required, as for an edit."
    )
    for view, name in ((Collection, plural.title()), (Item, kind.title()), (End, f"End{kind.title()}")):
        view.__name__ = view.__qualname__ = name
    bp.route(f"/providers/<string:npi>/{plural}", endpoint=plural)(Collection)
    bp.route(f"/providers/<string:npi>/{plural}/{id_rule}", endpoint=kind)(Item)
    bp.route(f"/providers/<string:npi>/{plural}/{id_rule}/end", endpoint=f"end_{kind}")(End)


_credential_routes("license", LicenseInput, LicensePatchInput, LicenseSchema)
_credential_routes("training", TrainingInput, TrainingPatchInput, TrainingSchema)
_credential_routes("registration", RegistrationInput, RegistrationPatchInput, RegistrationSchema)

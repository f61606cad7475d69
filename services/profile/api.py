"""The profile service's routes: /auth/... (public, through the gateway) and /me/... (the signed-in user's own data).

The gateway forwards /api/auth/... and /api/me/... here; for /me it has verified the access
token and passes the caller's ``sub`` and e-mail in headers (services.common.identity).
"""

from __future__ import annotations

import logging
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Request, Response, status
from fastapi.responses import JSONResponse

from services.common import problems
from services.common.identity import User
from services.common.problems import NotFound, Problem
from services.profile import domain
from services.profile.ports import IdentityProvider, ProfileRepository
from services.profile.schemas import (
    AddressIn,
    AddressList,
    AddressOut,
    Confirmation,
    Credentials,
    ProfileIn,
    ProfileOut,
    RefreshRequest,
    SignUpOut,
    TokensOut,
)
from services.profile.settings import ProfileSettings


def _identity(request: Request) -> IdentityProvider:
    return request.app.state.identity


def _profiles(request: Request) -> ProfileRepository:
    return request.app.state.profiles


def _settings(request: Request) -> ProfileSettings:
    return request.app.state.settings


log = logging.getLogger("services.profile")

Identity = Annotated[IdentityProvider, Depends(_identity)]
Profiles = Annotated[ProfileRepository, Depends(_profiles)]
Settings = Annotated[ProfileSettings, Depends(_settings)]

auth = APIRouter(prefix="/auth", tags=["auth"])
me = APIRouter(prefix="/me", tags=["me"])
internal = APIRouter(prefix="/internal/profiles", tags=["internal"])


# --------------------------------------------------------------------------- /auth


@auth.post("/signup", status_code=status.HTTP_201_CREATED, summary="Create an account (e-mail and password)")
async def sign_up(body: Credentials, identity: Identity, profiles: Profiles) -> SignUpOut:
    email = body.email.lower()
    result = await identity.sign_up(email, body.password)
    # Keep the e-mail address now: access tokens carry none, so the gateway cannot pass it on later.
    try:
        await profiles.profile(result.sub, email)
    except Exception:  # the account exists: the profile is made on first visit instead
        log.warning("profile not created at sign-up", exc_info=True)
    return SignUpOut.of(result)


@auth.post("/confirm", summary="Confirm the e-mail address with the code Cognito sent")
async def confirm(body: Confirmation, identity: Identity) -> dict[str, bool]:
    await identity.confirm(body.email.lower(), body.code)
    return {"confirmed": True}


@auth.post("/signin", summary="Exchange e-mail and password for access, id and refresh tokens")
async def sign_in(body: Credentials, identity: Identity) -> TokensOut:
    return TokensOut.of(await identity.sign_in(body.email.lower(), body.password))


@auth.post("/refresh", summary="New access and id tokens for a refresh token")
async def refresh(body: RefreshRequest, identity: Identity) -> TokensOut:
    return TokensOut.of(await identity.refresh(body.refresh_token))


@auth.post("/signout", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke the caller's tokens everywhere")
async def sign_out(
    identity: Identity, authorization: Annotated[str | None, Header(include_in_schema=False)] = None
) -> Response:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise problems.Unauthorized("send the access token as 'Authorization: Bearer <token>'")
    await identity.sign_out(token.strip())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- /me


@me.get("", summary="The caller's profile (created empty on first access)")
async def get_profile(user: User, profiles: Profiles) -> ProfileOut:
    return ProfileOut.of(await profiles.profile(user.sub, user.email))


@me.put("", summary="Replace the caller's profile (omitted fields are reset)")
async def put_profile(body: ProfileIn, user: User, profiles: Profiles) -> ProfileOut:
    return ProfileOut.of(await profiles.update_profile(user.sub, user.email, body.fields().checked()))


@me.get("/addresses", summary="The caller's address book, oldest first")
async def list_addresses(user: User, profiles: Profiles, settings: Settings) -> AddressList:
    items = [AddressOut.of(a) for a in await profiles.addresses(user.sub)]
    return AddressList(items=items, limit=settings.max_addresses)


@me.post("/addresses", status_code=status.HTTP_201_CREATED, summary="Add an address (the first is the default)")
async def add_address(
    body: AddressIn, user: User, profiles: Profiles, settings: Settings, response: Response
) -> AddressOut:
    address = await profiles.add_address(user.sub, user.email, body.fields().checked(), settings.max_addresses)
    response.headers["Location"] = f"/me/addresses/{address.id}"
    return AddressOut.of(address)


@me.get("/addresses/{address_id}", summary="One of the caller's addresses")
async def get_address(address_id: UUID, user: User, profiles: Profiles) -> AddressOut:
    return AddressOut.of(_found(await profiles.address(user.sub, address_id), address_id))


@me.put("/addresses/{address_id}", summary="Replace one of the caller's addresses")
async def put_address(address_id: UUID, body: AddressIn, user: User, profiles: Profiles) -> AddressOut:
    fields = body.fields().checked()
    return AddressOut.of(_found(await profiles.replace_address(user.sub, address_id, fields), address_id))


@me.delete("/addresses/{address_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete an address")
async def delete_address(address_id: UUID, user: User, profiles: Profiles) -> Response:
    if not await profiles.delete_address(user.sub, address_id):
        _found(None, address_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _found(address: domain.Address | None, address_id: UUID) -> domain.Address:
    # Someone else's id is "not found" too: the answer must not tell that it exists.
    if address is None:
        raise problems.NotFound(f"you have no address {address_id}")
    return address


# --------------------------------------------------------------------------- domain errors -> problems


def problem_for(exc: domain.DomainError) -> Problem:
    """The HTTP answer to each refusal of the domain or the identity provider (table in the README)."""
    match exc:
        case domain.Invalid():
            errors = [{"field": e.field, "in": "body", "message": e.message} for e in exc.errors]
            return Problem(str(exc), status=422, title="Invalid request", errors=errors)
        case domain.WeakPassword():
            errors = [{"field": "password", "in": "body", "message": f"must be {exc.policy}"}]
            return problems.Unprocessable(f"password: must be {exc.policy}", code="weak_password", errors=errors)
        case domain.BadCode():
            errors = [{"field": "code", "in": "body", "message": str(exc)}]
            return problems.Unprocessable(f"code: {exc}", code="code_mismatch", errors=errors)
        case domain.AccountExists():
            return problems.Conflict(str(exc), code="account_exists", field="email")
        case domain.AlreadyConfirmed():
            return problems.Conflict(str(exc), code="already_confirmed")
        case domain.ChallengeRequired():
            return problems.Conflict(str(exc), code="challenge_required", challenge=exc.challenge)
        case domain.AddressBookFull():
            return problems.Conflict(str(exc), code="address_book_full", limit=exc.limit)
        case domain.BadCredentials():
            return problems.Unauthorized(str(exc), code="not_authorized")
        case domain.NotConfirmed():
            return Problem(str(exc), status=403, title="Account not confirmed", code="not_confirmed")
        case domain.Throttled():
            return problems.TooManyRequests(str(exc), headers={"Retry-After": "5"}, code="throttled")
        case domain.ProviderUnavailable():
            return problems.Unavailable(str(exc), headers={"Retry-After": "5"}, code="identity_unavailable")
    log.error("no answer for %s", type(exc).__name__, exc_info=exc)  # a refusal without an answer is a bug
    return Problem("an unexpected error occurred; quote the request id", status=500, title="Internal error")


def install(app: FastAPI) -> None:
    """Answer every domain refusal with its problem."""

    @app.exception_handler(domain.DomainError)
    async def _refused(_: Request, exc: domain.DomainError) -> JSONResponse:
        p = problem_for(exc)
        return problems.problem_response(p.status, p.title, p.detail, p.headers, **p.extensions)


@internal.get("/{sub}", summary="A user's profile, for other services (checkout needs the e-mail address)")
async def internal_profile(
    sub: Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")], profiles: Profiles
) -> ProfileOut:
    # Cognito access tokens carry no e-mail claim: the address recorded at sign-up is the one to use.
    profile = await profiles.find(sub)
    if profile is None:
        raise NotFound(f"no profile for {sub}", field="sub")
    return ProfileOut.of(profile)

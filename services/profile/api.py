"""The profile service's routes: /auth/... (public, through the gateway) and /me/... (the signed-in user's own data).

The gateway forwards /api/auth/... and /api/me/... here; for /me it has verified the access
token and passes the caller's ``sub`` and e-mail in headers (services.common.identity). The
domain's refusals are ``services.common.errors`` classes, answered by the shared problem handler.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response, status

from services.common.identity import User
from services.common.openapi import errors
from services.profile.deps import AccountsDep, BearerToken, ProfilesDep, Sub
from services.profile.schemas import (
    AddressIn,
    AddressList,
    AddressOut,
    Confirmation,
    Credentials,
    NewAccount,
    ProfileIn,
    ProfileOut,
    RefreshRequest,
    SignUpOut,
    TokensOut,
)

auth = APIRouter(prefix="/auth", tags=["auth"])
me = APIRouter(prefix="/me", tags=["me"])
internal = APIRouter(prefix="/internal/profiles", tags=["internal"])
# What every call to Cognito may answer besides its own refusals (throttled, or Cognito unreachable).
IDP = errors(429, 503)


# --------------------------------------------------------------------------- /auth


@auth.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    summary="Create an account (e-mail and password); the same answer whether or not the address is registered",
    responses=IDP,
)
async def sign_up(body: NewAccount, accounts: AccountsDep) -> SignUpOut:
    return SignUpOut.of(await accounts.sign_up(body.email, body.password))


@auth.post(
    "/confirm",
    summary="Confirm the e-mail address with the code Cognito sent",
    responses=IDP | errors(409, _409="already confirmed"),
)
async def confirm(body: Confirmation, accounts: AccountsDep) -> dict[str, bool]:
    await accounts.confirm(body.email, body.code)
    return {"confirmed": True}


@auth.post(
    "/signin",
    summary="Exchange e-mail and password for access, id and refresh tokens",
    responses=IDP
    | errors(401, 403, 409, _401="wrong e-mail or password", _403="not confirmed yet", _409="a challenge is required"),
)
async def sign_in(body: Credentials, accounts: AccountsDep) -> TokensOut:
    return TokensOut.of(await accounts.sign_in(body.email, body.password))


@auth.post(
    "/refresh", summary="New access and id tokens for a refresh token", responses=IDP | errors(401, _401="revoked")
)
async def refresh(body: RefreshRequest, accounts: AccountsDep) -> TokensOut:
    return TokensOut.of(await accounts.refresh(body.refresh_token))


@auth.post(
    "/signout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke the caller's tokens everywhere",
    responses=IDP | errors(401),
)
async def sign_out(accounts: AccountsDep, token: BearerToken) -> Response:
    await accounts.sign_out(token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- /me


@me.get("", summary="The caller's profile (created empty on first access)")
async def get_profile(user: User, profiles: ProfilesDep) -> ProfileOut:
    return ProfileOut.of(await profiles.profile(user.sub, user.email))


@me.put("", summary="Replace the caller's profile (omitted fields are reset)")
async def put_profile(body: ProfileIn, user: User, profiles: ProfilesDep) -> ProfileOut:
    return ProfileOut.of(await profiles.update_profile(user.sub, user.email, body.fields()))


@me.get("/addresses", summary="The caller's address book, oldest first")
async def list_addresses(user: User, profiles: ProfilesDep) -> AddressList:
    items = [AddressOut.of(a) for a in await profiles.addresses(user.sub)]
    return AddressList(items=items, limit=profiles.max_addresses)


@me.post(
    "/addresses",
    status_code=status.HTTP_201_CREATED,
    summary="Add an address (the first is the default)",
    responses=errors(409, _409="the address book is full"),
)
async def add_address(body: AddressIn, user: User, profiles: ProfilesDep, response: Response) -> AddressOut:
    address = await profiles.add_address(user.sub, user.email, body.fields())
    response.headers["Location"] = f"/me/addresses/{address.id}"
    return AddressOut.of(address)


@me.get("/addresses/{address_id}", summary="One of the caller's addresses", responses=errors(404))
async def get_address(address_id: UUID, user: User, profiles: ProfilesDep) -> AddressOut:
    return AddressOut.of(await profiles.address(user.sub, address_id))


@me.put("/addresses/{address_id}", summary="Replace one of the caller's addresses", responses=errors(404))
async def put_address(address_id: UUID, body: AddressIn, user: User, profiles: ProfilesDep) -> AddressOut:
    return AddressOut.of(await profiles.replace_address(user.sub, address_id, body.fields()))


@me.delete(
    "/addresses/{address_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an address",
    responses=errors(404),
)
async def delete_address(address_id: UUID, user: User, profiles: ProfilesDep) -> Response:
    await profiles.delete_address(user.sub, address_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- internal


@internal.get(
    "/{sub}",
    summary="A user's profile, for other services (checkout needs the e-mail address)",
    responses=errors(404),
)
async def internal_profile(sub: Sub, profiles: ProfilesDep) -> ProfileOut:
    # Cognito access tokens carry no e-mail claim: the address recorded at sign-up is the one to use.
    return ProfileOut.of(await profiles.of_user(sub))

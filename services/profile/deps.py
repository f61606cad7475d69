"""The profile routes' dependencies, as ``Annotated`` aliases reading what the app's parts built."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Request

from services.common.errors import Unauthorized
from services.profile.service import Accounts, Profiles


def _accounts(request: Request) -> Accounts:
    return request.app.state.accounts


def _profiles(request: Request) -> Profiles:
    return request.app.state.profiles


def _bearer(authorization: Annotated[str | None, Header(include_in_schema=False)] = None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send the access token as 'Authorization: Bearer <token>'")
    return token.strip()


AccountsDep = Annotated[Accounts, Depends(_accounts)]
ProfilesDep = Annotated[Profiles, Depends(_profiles)]
BearerToken = Annotated[str, Depends(_bearer)]
Sub = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")]

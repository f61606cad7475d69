"""Who is calling: the gateway verifies the Cognito token and passes the identity in headers.

Only the gateway is reachable from outside (the ingress routes to it alone); it strips these
headers from every incoming request before setting them, so a client cannot forge them. On EKS
the NetworkPolicies of cfn/k8s.py admit to each service only the pods of its callers
(reference.access.service_calls), so no other pod can set them; a caller that is admitted can, as
the gateway does (docs/infrastructure.md, "/internal routes, layer 4 and layer 7").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header

from services.common.problems import Forbidden, Unauthorized

USER_HEADER = "X-Shop-User"
EMAIL_HEADER = "X-Shop-Email"
GROUPS_HEADER = "X-Shop-Groups"
IDENTITY_HEADERS = (USER_HEADER, EMAIL_HEADER, GROUPS_HEADER)


@dataclass(frozen=True, slots=True)
class Caller:
    """The signed-in user: the token's ``sub``, e-mail and Cognito groups."""

    sub: str
    email: str = ""
    groups: frozenset[str] = frozenset()

    def headers(self) -> dict[str, str]:
        """The headers that carry this identity to a downstream service."""
        return {USER_HEADER: self.sub, EMAIL_HEADER: self.email, GROUPS_HEADER: ",".join(sorted(self.groups))}


def optional_caller(
    user: Annotated[str | None, Header(alias=USER_HEADER, include_in_schema=False)] = None,
    email: Annotated[str | None, Header(alias=EMAIL_HEADER, include_in_schema=False)] = None,
    groups: Annotated[str | None, Header(alias=GROUPS_HEADER, include_in_schema=False)] = None,
) -> Caller | None:
    if not user:
        return None
    return Caller(user, email or "", frozenset(g for g in (groups or "").split(",") if g))


def required_caller(caller: Annotated[Caller | None, Depends(optional_caller)]) -> Caller:
    if caller is None:
        raise Unauthorized("sign in first: this needs a valid access token")
    return caller


def admin_caller(caller: Annotated[Caller, Depends(required_caller)]) -> Caller:
    if "admin" not in caller.groups:
        raise Forbidden("this needs the admin role (Cognito group 'admin')")
    return caller


MaybeUser = Annotated[Caller | None, Depends(optional_caller)]
User = Annotated[Caller, Depends(required_caller)]
Admin = Annotated[Caller, Depends(admin_caller)]

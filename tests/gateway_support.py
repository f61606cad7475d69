"""Gateway test helpers: real Cognito users from the emulator, an echoing upstream service, a running gateway."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

import httpx
import jwt
from asgi_lifespan import LifespanManager
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings

PASSWORD = "Correct-Horse-9-Battery"


@dataclass(frozen=True)
class Pool:
    """A provisioned user pool and how the gateway must be told about it."""

    id: str
    client_id: str
    region: str
    endpoint_url: str

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.id}"

    @property
    def jwks_url(self) -> str:
        return f"{self.endpoint_url}/{self.id}/.well-known/jwks.json"


def sign_in(idp: Any, pool_id: str, client_id: str, email: str, groups: tuple[str, ...] = ()) -> dict[str, str]:
    """Create a confirmed user in the emulator's pool and sign in: the real AccessToken and IdToken."""
    idp.admin_create_user(UserPoolId=pool_id, Username=email, UserAttributes=[{"Name": "email", "Value": email}])
    idp.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=PASSWORD, Permanent=True)
    for group in groups:
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName=group)
    result = idp.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD}
    )
    return result["AuthenticationResult"]


def emulator_signing_key() -> dict[str, Any]:
    """The emulator's own private key (moto signs every pool with it): for tokens Cognito would never issue,
    such as one that has expired, that must fail for that reason alone."""
    raw = files("moto.cognitoidp").joinpath("resources/jwks-private.json.gz").read_bytes()
    return json.loads(gzip.decompress(raw))


def sign_as_emulator(claims: dict[str, Any]) -> str:
    key = jwt.PyJWK(emulator_signing_key())
    return jwt.encode(claims, key.key, algorithm="RS256", headers={"kid": key.key_id})


@dataclass
class Echo:
    """A real upstream service: it answers every path with what it received, and counts calls."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.api_route("/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
        async def echo(request: Request, path: str) -> Response:
            call = {
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "host": request.headers.get("host"),
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "body": (await request.body()).decode(),
                "n": len(self.calls) + 1,
            }
            self.calls.append(call)
            if path.endswith("missing"):
                return JSONResponse({"detail": "no such thing"}, status_code=404)
            return JSONResponse(call, headers={"Set-Cookie": "s=1"} if path.endswith("cookie") else None)

        return app


def gateway_settings(pool: Pool, redis_url: str, prefix: str, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "redis_prefix": prefix,
        "cognito_issuer": pool.issuer,
        "jwks_url": pool.jwks_url,
        "client_ids": [pool.client_id],
        "rate_per_ip": 1000,
        "rate_per_user": 1000,
    }
    return GatewaySettings(**(values | overrides))


@asynccontextmanager
async def running(
    settings: GatewaySettings, upstream: FastAPI | None = None
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The gateway started (lifespan run) with ``upstream`` behind every service, and a client to call it."""
    transport = httpx.ASGITransport(app=upstream) if upstream is not None else None
    app = create_app(settings, upstream_transport=transport)
    async with LifespanManager(app):
        client_transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=client_transport, base_url="http://test") as client:
            yield app, client

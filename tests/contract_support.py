"""The whole API for contract tests: all ten services and the gateway under real uvicorn servers, started once.

The stack is built once per test module (``async with shop(servers) as stack``): a fresh emulator
state with every resource of reference/ provisioned, a database of its own, each service on a
free port and the gateway routing to them as it does under ``nox -s up``. Shoppers and an admin
are real users of the emulator's pool, so requests through the gateway carry real access tokens.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from gateway_support import Pool, gateway_settings, sign_in
from server_support import Uvicorns, key_prefix, new_database, provision, use_emulator

from localcloud import backends, health
from localcloud.provision import database_secret as database_secret_value
from services.cart.app import create_app as create_cart
from services.catalog.app import create_app as create_catalog
from services.catalog.settings import CatalogSettings
from services.checkout.app import create_app as create_checkout
from services.checkout.settings import CheckoutSettings
from services.gateway.app import create_app as create_gateway
from services.notification.app import create_app as create_notification
from services.notification.settings import NotificationSettings
from services.order.app import create_app as create_order
from services.order.settings import OrderSettings
from services.payment.app import create_app as create_payment
from services.profile.app import create_app as create_profile
from services.profile.settings import ProfileSettings
from services.recommendations.app import create_app as create_recommendations
from services.recommendations.settings import RecommendationsSettings
from services.search.app import create_app as create_search
from services.search.settings import SearchSettings

SERVICES = ("catalog", "search", "cart", "checkout", "order", "profile", "payment", "notification", "recommendations")


@dataclass
class Stack:
    """Where each service answers (``urls``), the gateway's address, and the tokens of two real users."""

    urls: dict[str, str]
    gateway: str
    pool: Pool
    idp: Any
    stage: str = ""
    serve: Callable[[Any], Awaitable[str]] | None = None  # run one more ASGI app (the edge) until the stack stops
    tokens: dict[str, str] = field(default_factory=dict)
    apps: dict[str, Any] = field(default_factory=dict)
    front_door: str = ""  # the local edge in front of the gateway, when a test module starts one

    def token(self, who: str, groups: tuple[str, ...] = ()) -> str:
        """The access token of user ``who`` (created and signed in on first use)."""
        if who not in self.tokens:
            email = f"{who}-{uuid.uuid4().hex[:6]}@example.com"
            result = sign_in(self.idp, self.pool.id, self.pool.client_id, email, groups)
            self.tokens[who] = result["AccessToken"]
        return self.tokens[who]

    def bearer(self, who: str, groups: tuple[str, ...] = ()) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(who, groups)}"}


@asynccontextmanager
async def shop(servers: Any) -> AsyncIterator[Stack]:
    """The ten services and the gateway, each under uvicorn on a port of its own, until the block ends."""
    url = servers.aws.url.rstrip("/")
    with (
        pytest.MonkeyPatch.context() as env,
        new_database(servers.postgres.url) as pg_url,
        key_prefix(servers.valkey.url) as prefix,
    ):
        stage = use_emulator(servers, env)
        cloud = provision(servers, stage)
        aws = health.aws_client("secretsmanager", endpoint_url=url, region=servers.region)
        aws.put_secret_value(SecretId=cloud.secrets["database"], SecretString=json.dumps(database_secret_value(pg_url)))
        pool = Pool(cloud.user_pool_id, cloud.user_pool_clients["web"], servers.region, url)
        sockets = {name: backends.listen("127.0.0.1", 0) for name in (*SERVICES, "gateway")}
        urls = {name: f"http://127.0.0.1:{s.getsockname()[1]}" for name, s in sockets.items()}
        for name, where in urls.items():
            env.setenv(f"SHOP_SERVICE_{name.upper()}_URL", where)
        apps = {
            "catalog": create_catalog(
                CatalogSettings(redis_url=servers.valkey.url, cache_prefix=prefix, sweep_interval_s=0)
            ),
            "search": create_search(SearchSettings(consumer_wait_s=1, index_dir=":memory:")),
            "cart": create_cart(),
            "checkout": create_checkout(CheckoutSettings(sweep_interval_s=0)),
            "order": create_order(OrderSettings(consumer_wait_s=1)),
            "profile": create_profile(
                ProfileSettings(
                    stage=stage,
                    aws_region=servers.region,
                    user_pool_id=cloud.user_pool_id,
                    user_pool_client_id=cloud.user_pool_clients["web"],
                )
            ),
            "payment": create_payment(),
            "notification": create_notification(NotificationSettings(consumer_wait_s=1)),
            "recommendations": create_recommendations(RecommendationsSettings(consumer_wait_s=1)),
            "gateway": create_gateway(gateway_settings(pool, servers.valkey.url, prefix)),
        }
        uvicorns = Uvicorns()
        try:
            for name, app in apps.items():
                await uvicorns.start(app, sockets[name])
            idp = health.aws_client("cognito-idp", endpoint_url=url, region=servers.region)
            stack = Stack(
                {n: u for n, u in urls.items() if n != "gateway"}, urls["gateway"], pool, idp, stage, uvicorns.start
            )
            stack.apps = apps
            yield stack
        finally:
            await uvicorns.stop()

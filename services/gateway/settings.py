"""The gateway's settings: ``GATEWAY_*`` variables, plus the shared ones the local cloud hands every service."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from services.common.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    """Every variable is listed with its default in services/gateway/README.md."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias=AliasChoices("GATEWAY_REDIS_URL", "REDIS_URL"))
    redis_prefix: str = "gw:"
    redis_timeout_s: float = Field(0.25, gt=0)
    # After a Redis failure the gateway serves without it (fails open) for this long before trying again.
    redis_retry_s: float = Field(1.0, ge=0)

    cognito_issuer: str = Field("", validation_alias=AliasChoices("GATEWAY_COGNITO_ISSUER", "SHOP_COGNITO_ISSUER"))
    jwks_url: str = Field("", validation_alias=AliasChoices("GATEWAY_JWKS_URL", "SHOP_COGNITO_JWKS_URL"))
    client_ids: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=AliasChoices("GATEWAY_CLIENT_IDS", "SHOP_USER_POOL_CLIENT_ID")
    )
    jwt_leeway_s: int = Field(30, ge=0, le=300)
    jwks_min_refresh_s: float = Field(30.0, ge=0)

    rate_window_s: float = Field(10.0, gt=0)
    rate_per_user: int = Field(200, ge=1)
    rate_per_ip: int = Field(400, ge=1)

    # Proxies in front that append to X-Forwarded-For (locally the front door: 1; CloudFront + ALB: 2).
    trusted_proxy_hops: int = Field(1, ge=0, le=5)

    cache_enabled: bool = True
    # One JSON line per request (services.access). The ALB and CloudFront keep access logs as well; at a few
    # thousand requests a second per pod the line is about a sixth of the cache-hit path (load/bench profile).
    access_log: bool = True

    # Browser sessions (issue 22; docs/bff-sessions.md): the cookie carries only a random id, the Cognito tokens stay
    # in Redis, sealed with a data key of the stage's KMS key (one GenerateDataKey per rotation, not per request).
    session_cookie: str = Field("__Host-shop-session", description="the session cookie's name (HttpOnly, Secure)")
    cart_cookie: str = Field("__Host-shop-cart", description="the guest cart's cookie (HttpOnly, Secure)")
    session_same_site: Literal["Strict", "Lax"] = Field(
        "Lax", description="SameSite of both cookies; Lax keeps a shopper signed in when arriving from a link"
    )
    session_ttl_s: int = Field(12 * 3600, ge=60, le=30 * 86400, description="a session's absolute lifetime")
    session_refresh_before_s: int = Field(
        120, ge=0, le=3600, description="refresh the access token when it expires within this many seconds"
    )
    session_kms_key: str = Field("", description="the KMS key wrapping the data keys; empty: alias/shop-<stage>-main")
    session_key_rotate_s: float = Field(86400.0, gt=0, description="a new data key (GenerateDataKey) this often")
    cart_cookie_ttl_s: int = Field(30 * 86400, ge=60, description="the guest cart cookie's lifetime")
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="origins whose cookie writes are accepted when the browser sends no Sec-Fetch-Site; empty: any "
        "but null",
    )

    upstream_connect_timeout_s: float = Field(1.0, gt=0)
    upstream_read_timeout_s: float = Field(5.0, gt=0)
    upstream_attempts: int = Field(2, ge=1, le=5)
    upstream_max_connections: int = Field(100, ge=1)

    @property
    def kms_key(self) -> str:
        """The key that wraps the session data keys: the setting, else the stage's main key alias."""
        return self.session_kms_key or f"alias/{self.resource('main')}"

    @field_validator("client_ids", "allowed_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """``a,b`` as well as a JSON list: the local cloud passes one client id as a plain string."""
        if isinstance(value, str) and not value.lstrip().startswith("["):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

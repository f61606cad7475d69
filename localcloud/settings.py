"""Settings of the local cloud: which backing services to start, and which to take as given.

Each backing service is started embedded unless its setting points at a real one, so
the same code runs against Aurora, ElastiCache and AWS by changing variables only.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AliasChoices, Field, HttpUrl, PostgresDsn, RedisDsn, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# What a valid value looks like, shown next to the error when a setting is malformed.
EXAMPLES = {
    "DATABASE_URL": "postgresql://user:password@host:5432/dbname",
    "REDIS_URL": "redis://host:6379/0 (or rediss:// for TLS)",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
    "SHOP_PORT": "a TCP port such as 8080",
    "SHOP_REPLICAS": "gateway=2,catalog=2 (service=count, 1 to 16 each)",
    "SHOP_CPU_QUOTA": "request (the pod's CPU request in reference/capacity.py), 250m, 0.5, or none",
    "SHOP_PREFORK": "on or off",
}
MAX_REPLICAS = 16


class AwsMode(StrEnum):
    EMULATOR = "emulator"  # moto started here, or the emulator at AWS_ENDPOINT_URL
    AWS = "aws"  # real AWS with the default credential chain; CloudFormation owns the resources


class Balancer(StrEnum):
    AUTO = "auto"  # HAProxy in front of the gateway and every multi-replica service when any runs more than one
    HAPROXY = "haproxy"  # always: the gateway and every service in SHOP_REPLICAS, even at one replica
    NONE = "none"  # never: one replica per service, reached directly


class LocalCloudSettings(BaseSettings):
    """Every variable the local cloud reads. Unset URLs mean 'start the embedded server'."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    database_url: PostgresDsn | None = Field(None, validation_alias="DATABASE_URL")
    redis_url: RedisDsn | None = Field(None, validation_alias="REDIS_URL")
    aws_endpoint_url: HttpUrl | None = Field(None, validation_alias="AWS_ENDPOINT_URL")
    aws_mode: AwsMode = Field(AwsMode.EMULATOR, validation_alias="SHOP_AWS_MODE")
    aws_region: str = Field("us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"))
    stage: str = Field("local", validation_alias="SHOP_STAGE", pattern=r"^[a-z][a-z0-9-]{0,15}$")
    host: str = Field("127.0.0.1", validation_alias="SHOP_HOST")
    port: int = Field(8080, validation_alias="SHOP_PORT", ge=0, le=65535)  # 0: any free port (tests)
    ready_timeout_s: float = Field(60.0, validation_alias="SHOP_READY_TIMEOUT", gt=0)
    # Processes per service, e.g. "gateway=2,catalog=2"; unnamed services run one.
    replicas: Annotated[dict[str, int], NoDecode] = Field(default_factory=dict, validation_alias="SHOP_REPLICAS")
    balancer: Balancer = Field(Balancer.AUTO, validation_alias="SHOP_BALANCER")
    # Each replica's CPU quota, as a pod's CPU request: "" (none), "request" (reference/capacity.py), "250m".
    cpu_quota: str = Field("", validation_alias="SHOP_CPU_QUOTA")
    # Fault proxies (localcloud/faultproxy.py) in front of PostgreSQL, Valkey and the emulator, switched by the
    # control API; off by default: every query then crosses one more hop in Python.
    fault_proxies: bool = Field(False, validation_alias="SHOP_FAULT_PROXIES")
    # Services forked from one interpreter that imported them all (localcloud/zygote.py); off: one
    # `python -m uvicorn` spawned per replica, each importing its app.
    prefork: bool = Field(True, validation_alias="SHOP_PREFORK")

    @field_validator("replicas", mode="before")
    @classmethod
    def _parse_replicas(cls, value: object) -> object:
        return parse_replicas(value) if isinstance(value, str) else value

    @field_validator("replicas")
    @classmethod
    def _known_services(cls, value: dict[str, int]) -> dict[str, int]:
        from reference import SERVICES

        names = {s.name for s in SERVICES}
        for name, count in value.items():
            if name not in names:
                raise ValueError(f"no service named {name!r} (services: {', '.join(sorted(names))})")
            if not 1 <= count <= MAX_REPLICAS:
                raise ValueError(f"{name}: {count} replicas is outside 1..{MAX_REPLICAS}")
        return value

    @field_validator("cpu_quota")
    @classmethod
    def _quota(cls, value: str) -> str:
        value = value.strip().lower()
        if value in ("", "none", "0"):
            return ""
        if value == "request":
            return value
        from localcloud.cgroups import millicores

        millicores(value)  # raises ValueError naming the bad quantity
        return value

    def quota_millicores(self) -> int | None:
        """The CPU quota of each replica in millicores, or None for no quota."""
        if not self.cpu_quota:
            return None
        from localcloud.cgroups import millicores
        from reference.capacity import POD_CPU_REQUEST

        return millicores(POD_CPU_REQUEST if self.cpu_quota == "request" else self.cpu_quota)

    def balanced(self, present: list[str]) -> set[str]:
        """The services that sit behind the balancer (before checking it is installed)."""
        if self.balancer is Balancer.NONE:
            return set()
        multi = {n for n in present if self.replicas.get(n, 1) > 1}
        if self.balancer is Balancer.HAPROXY:  # every service named in SHOP_REPLICAS, even at 1: same hops at any N
            return multi | ({"gateway", *self.replicas} & set(present))
        return multi | ({"gateway"} & set(present)) if multi else set()


def parse_replicas(text: str) -> dict[str, int]:
    """``"gateway=2,catalog=2"`` -> ``{"gateway": 2, "catalog": 2}``; raises ValueError on a malformed pair."""
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, count = part.partition("=")
        if not sep or not count.strip().isdigit():
            raise ValueError(f"{part!r} is not service=count")
        out[name.strip()] = int(count)
    return out


class SettingsError(Exception):
    """A setting is malformed; the message names the variable and shows a valid value."""


def load_settings(**overrides: object) -> LocalCloudSettings:
    """Read settings from the environment (and overrides), or raise SettingsError naming the bad variable."""
    try:
        return LocalCloudSettings(**overrides)
    except ValidationError as exc:
        raise SettingsError(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    """One line per bad variable: its name, what is wrong, the value given, an example of a good one."""
    lines = []
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else "?"
        line = f"setting {name} is not valid: {err['msg']} (got {err.get('input')!r})"
        if name in EXAMPLES:
            line += f"; expected {EXAMPLES[name]}"
        lines.append(line)
    return "\n".join(lines)

"""Settings every service has; each service subclasses with its own env prefix (``CATALOG_``, ...).

Shared variables (``SHOP_STAGE``, ``AWS_REGION``, ``LOG_LEVEL``) keep their names in every
service through aliases, which pydantic-settings reads regardless of the prefix.

One concept, one name, in every service: a service with tables mixes in ``DatabaseSettings``
(``<PREFIX>DATABASE_SECRET``, ``<PREFIX>DB_POOL_SIZE`` ...), one that publishes events ``RelaySettings``
(``<PREFIX>RUN_RELAY``, ``<PREFIX>RELAY_IDLE_S``, ``<PREFIX>RELAY_GATHER_S``), one that consumes a queue
``ConsumerSettings`` (``<PREFIX>RUN_CONSUMER``, ``<PREFIX>CONSUMER_WAIT_S``, ``<PREFIX>CONSUMER_GATHER_S``,
``<PREFIX>CONSUMER_DELETE_WITHIN_S``).
The names some services used before are read for one release as aliases (``LEGACY_NAMES``), with a warning.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from reference import physical_name, service

log = logging.getLogger("services.settings")


def _ms_to_s(value: str) -> float:
    return float(value) / 1000


# Old variable suffix -> (new field, conversion). Read only when the new name is not set.
LEGACY_NAMES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "DATABASE_SECRET_ID": ("database_secret", str),
    "RELAY_IDLE_MS": ("relay_idle_s", _ms_to_s),
    "POLL_WAIT_S": ("consumer_wait_s", int),
}


class ServiceSettings(BaseSettings):
    """Base of every service's settings. Subclasses set ``model_config`` with their env prefix."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)
    LEGACY: ClassVar[dict[str, tuple[str, Callable[[str], Any]]]] = LEGACY_NAMES

    stage: str = Field("local", validation_alias="SHOP_STAGE")
    aws_region: str = Field("us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"))
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    shutdown_grace_s: float = Field(
        5.0, ge=0, le=60, description="on stop, background loops get this long to finish what they hold"
    )
    # Traces (services/common/telemetry.py): one name in every service, as SHOP_STAGE.
    tracing: Literal["off", "xray", "otlp"] = Field(
        "off",
        validation_alias="SHOP_TRACING",
        description="off (nothing imported); xray: segments to the X-Ray API (the emulator locally); otlp: to ADOT",
    )
    trace_sampling: Literal["rules", "all"] = Field(
        "rules",
        validation_alias="SHOP_TRACE_SAMPLING",
        description="rules: reference/observability.py SAMPLING_RULES; all: every request (local debugging)",
    )

    @model_validator(mode="before")
    @classmethod
    def _legacy_names(cls, data: Any) -> Any:
        """Read the old names of a setting (environment or keyword) when its new name is not given."""
        if not isinstance(data, dict):
            return data
        prefix = str(cls.model_config.get("env_prefix", ""))
        for old, (new, convert) in cls.LEGACY.items():
            if new not in cls.model_fields or data.get(new) not in (None, ""):
                continue
            value = data.pop(old.lower(), None)
            value = convert(value) if value not in (None, "") else value  # old units, also as a keyword
            source = f"{old.lower()}="
            if value is None and prefix and (raw := os.environ.get(prefix + old)) is not None:
                value, source = convert(raw), prefix + old
            if value not in (None, ""):
                data[new] = value
                log.warning("%s is deprecated; set %s%s instead", source, prefix, new.upper())
        return data

    def resource(self, logical: str, sep: str = "-") -> str:
        """The deployed name of a resource of the reference model in this stage."""
        return physical_name(logical, self.stage, sep)


class DatabaseSettings(ServiceSettings):
    """A service that owns tables in the shared PostgreSQL (Aurora), in a schema of its own."""

    database_secret: str | None = Field(None, description="Secrets Manager id; default shop/<stage>/database")
    db_pool_size: int = Field(
        10, ge=1, le=200, description="with DB_MAX_OVERFLOW, the most connections a process opens (one at start)"
    )
    db_max_overflow: int = Field(
        10, ge=0, le=200, description="added to DB_POOL_SIZE: a connection idle 30 min is closed"
    )
    migrate_on_start: bool = Field(True, description="run the Alembic migrations at start (off: a Job ran them)")

    @property
    def database_secret_id(self) -> str:
        """The secret holding the database credentials: shop/<stage>/database unless given."""
        return self.database_secret or self.resource("database", sep="/")


class RelaySettings(ServiceSettings):
    """A service that publishes its outbox to SNS (the diagram's event publisher)."""

    run_relay: bool = Field(True, description="publish the outbox to SNS from this process")
    relay_idle_s: float = Field(0.2, gt=0, le=60, description="the relay's pause when the outbox is empty")
    relay_gather_s: float = Field(
        0.1,
        ge=0,
        le=5,
        description="woken by a commit, the relay waits this long so the commits meanwhile go out in one"
        " PublishBatch (an event waits at most this much longer)",
    )


class ConsumerSettings(ServiceSettings):
    """A service that consumes an SQS queue."""

    run_consumer: bool = Field(True, description="consume the service's queue in this process")
    consumer_wait_s: int = Field(20, ge=0, le=20, description="SQS long-poll wait; a stop does not wait for it")
    consumer_gather_s: float = Field(
        0.2,
        ge=0,
        le=5,
        description="batching window: after a receive that was not full, the next is made this long after it, so"
        " what arrives meanwhile costs one receive and one delete (0: at once)",
    )
    consumer_delete_within_s: float = Field(
        1.0,
        ge=0,
        le=10,
        description="a handled message is deleted at most this long after, in one DeleteMessageBatch with those"
        " handled meanwhile (ten go at once); kept well under the queues' 30 s visibility timeout (0: after each"
        " receive)",
    )


def service_url(name: str) -> str:
    """Where service ``name`` answers: ``SHOP_SERVICE_<NAME>_URL``, else its local port from reference/.

    On EKS the manifests set the variable to the cluster DNS name of the service.
    """
    given = os.environ.get(f"SHOP_SERVICE_{name.upper()}_URL")
    return given or f"http://127.0.0.1:{service(name).port}"

"""Settings of the local cloud: which backing services to start, and which to take as given.

Each backing service is started embedded unless its setting points at a real one, so
the same code runs against Aurora, ElastiCache and AWS by changing variables only.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AliasChoices, Field, HttpUrl, PostgresDsn, RedisDsn, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

# What a valid value looks like, shown next to the error when a setting is malformed.
EXAMPLES = {
    "DATABASE_URL": "postgresql://user:password@host:5432/dbname",
    "REDIS_URL": "redis://host:6379/0 (or rediss:// for TLS)",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
    "SHOP_PORT": "a TCP port such as 8080",
}


class AwsMode(StrEnum):
    EMULATOR = "emulator"  # moto started here, or the emulator at AWS_ENDPOINT_URL
    AWS = "aws"  # real AWS with the default credential chain; CloudFormation owns the resources


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

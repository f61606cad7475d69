"""Settings every service has; each service subclasses with its own env prefix (``CATALOG_``, ...).

Shared variables (``SHOP_STAGE``, ``AWS_REGION``, ``LOG_LEVEL``) keep their names in every
service through aliases, which pydantic-settings reads regardless of the prefix.
"""

from __future__ import annotations

import os

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from reference import physical_name, service


class ServiceSettings(BaseSettings):
    """Base of every service's settings. Subclasses set ``model_config`` with their env prefix."""

    model_config = SettingsConfigDict(extra="ignore")

    stage: str = Field("local", validation_alias="SHOP_STAGE")
    aws_region: str = Field("us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"))
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")

    def resource(self, logical: str, sep: str = "-") -> str:
        """The deployed name of a resource of the reference model in this stage."""
        return physical_name(logical, self.stage, sep)


def service_url(name: str) -> str:
    """Where service ``name`` answers: ``SHOP_SERVICE_<NAME>_URL``, else its local port from reference/.

    On EKS the manifests set the variable to the cluster DNS name of the service.
    """
    given = os.environ.get(f"SHOP_SERVICE_{name.upper()}_URL")
    return given or f"http://127.0.0.1:{service(name).port}"

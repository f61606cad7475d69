"""Fixtures of the gateway's tests against the emulator's Cognito, loaded by
``pytest_plugins = ("gateway_fixtures",)`` in their test modules."""

from __future__ import annotations

from typing import Any

import pytest
from gateway_support import Pool


@pytest.fixture
def pool(provisioned: Any, aws: Any) -> Pool:
    """The stage's user pool and its web app client, as the gateway verifies tokens of."""
    return Pool(provisioned.user_pool_id, provisioned.user_pool_clients["web"], aws.region, aws.endpoint_url)


@pytest.fixture
def idp(aws: Any) -> Any:
    """A Cognito client on the emulator."""
    return aws.client("cognito-idp")

"""The rotation Lambda of fully generated secrets, run step by step against moto's Secrets Manager."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from cfn.lambdas import rotate_generated


def rotate(client: Any, arn: str) -> str:
    token = str(uuid.uuid4())
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        rotate_generated.handler({"SecretId": arn, "ClientRequestToken": token, "Step": step}, None, client=client)
    return token


def test_rotation_replaces_every_generated_field_and_makes_it_current(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rotate_generated, "FIELDS", ["session_signing_key", "idempotency_hmac_key"])
    sm = aws.client("secretsmanager")
    arn = sm.create_secret(Name="shop/dev/app-keys", SecretString=json.dumps({"session_signing_key": "old"}))["ARN"]
    token = rotate(sm, arn)
    # Named stage: moto 5.2.5 answers a stage-less read with the version it was created with.
    current = sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
    value = json.loads(current["SecretString"])
    assert current["VersionId"] == token
    assert set(value) == {"session_signing_key", "idempotency_hmac_key"}
    assert value["session_signing_key"] != "old"
    assert len(value["idempotency_hmac_key"]) >= 40
    previous = json.loads(sm.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")["SecretString"])
    assert previous == {"session_signing_key": "old"}


def test_a_retried_create_step_keeps_the_pending_value(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rotate_generated, "FIELDS", ["k"])
    sm = aws.client("secretsmanager")
    arn = sm.create_secret(Name="shop/dev/k", SecretString=json.dumps({"k": "old"}))["ARN"]
    event = {"SecretId": arn, "ClientRequestToken": str(uuid.uuid4()), "Step": "createSecret"}
    rotate_generated.handler(event, None, client=sm)
    first = sm.get_secret_value(SecretId=arn, VersionStage="AWSPENDING")["SecretString"]
    rotate_generated.handler(event, None, client=sm)
    assert sm.get_secret_value(SecretId=arn, VersionStage="AWSPENDING")["SecretString"] == first

"""Secrets Manager rotation for secrets whose every field is random (signing keys): four steps, no server to update."""

import json
import os
import secrets

import boto3

FIELDS = [f for f in os.environ.get("GENERATED_FIELDS", "").split(",") if f]


def handler(event, _context, client=None):
    sm = client or boto3.client("secretsmanager")
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    if step == "createSecret":
        try:
            sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        except sm.exceptions.ResourceNotFoundException:
            current = json.loads(sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"] or "{}")
            fresh = {**current, **{f: secrets.token_urlsafe(32) for f in FIELDS}}
            sm.put_secret_value(
                SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(fresh), VersionStages=["AWSPENDING"]
            )
    elif step == "finishSecret":
        stages = sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
        current = next((v for v, s in stages.items() if "AWSCURRENT" in s), None)
        if current != token:
            sm.update_secret_version_stage(
                SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=current
            )
    # setSecret and testSecret: nothing outside Secrets Manager holds these values.

"""The `provisioned` fixture's snapshot is the state provisioning makes, and it works as that state does.

Tests restore a snapshot of a provisioned emulator instead of provisioning again
(localcloud/moto_server.py, tests/conftest.py). These tests compare the two on every kind of
resource and use the restored one: a difference here would make every test that restores it
test something other than what `nox -s up` provisions.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import httpx
from emulator_support import inventory

from localcloud import moto_server
from localcloud.provision import Outputs, Provisioner


def names(outputs: Outputs) -> dict[str, Any]:
    """The outputs without the ids the emulator generates (a user pool's, a key's): what each names."""
    return {k: sorted(v) if isinstance(v, dict) else v for k, v in asdict(outputs).items() if k != "user_pool_id"}


def test_a_restored_provisioned_state_holds_exactly_what_provisioning_made(aws, servers, provisioned):
    restored = inventory(aws)
    httpx.post(f"{aws.endpoint_url}/moto-api/reset", timeout=10).raise_for_status()
    assert inventory(aws)["queues"] == {}, "the reset emptied nothing: the comparison below would prove nothing"
    fresh = Provisioner(
        endpoint_url=aws.endpoint_url, region=aws.region, stage=aws.stage, database_url=servers.postgres.url
    ).provision()
    assert names(fresh) == names(provisioned)
    assert inventory(aws) == restored


def test_a_restored_state_delivers_encrypts_and_signs_in(aws, provisioned):
    assert moto_server.restore_snapshot(aws.endpoint_url, f"provisioned-{aws.stage}"), "no snapshot was restored"
    sns, sqs = aws.client("sns"), aws.client("sqs")
    subscription = next(iter(provisioned.subscriptions))
    topic, queue = subscription.split("->")
    policy = sns.get_subscription_attributes(SubscriptionArn=provisioned.subscriptions[subscription])["Attributes"]
    attributes = {
        name: {"DataType": "String", "StringValue": values[0]}
        for name, values in json.loads(policy.get("FilterPolicy", "{}")).items()
        if isinstance(values, list) and values and isinstance(values[0], str)
    }
    sns.publish(TopicArn=provisioned.topics[topic], Message="hello", MessageAttributes=attributes)
    got = sqs.receive_message(QueueUrl=provisioned.queues[queue], WaitTimeSeconds=5)
    assert len(got.get("Messages", [])) == 1

    kms = aws.client("kms")
    key = next(iter(provisioned.kms_keys.values()))
    blob = kms.encrypt(KeyId=key, Plaintext=b"secret")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"

    idp = aws.client("cognito-idp")
    client_id = next(iter(provisioned.user_pool_clients.values()))
    idp.admin_create_user(UserPoolId=provisioned.user_pool_id, Username="snap@example.com", MessageAction="SUPPRESS")
    idp.admin_set_user_password(
        UserPoolId=provisioned.user_pool_id, Username="snap@example.com", Password="Correct-Horse-9", Permanent=True
    )
    tokens = idp.admin_initiate_auth(
        UserPoolId=provisioned.user_pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "snap@example.com", "PASSWORD": "Correct-Horse-9"},
    )
    assert tokens["AuthenticationResult"]["AccessToken"]

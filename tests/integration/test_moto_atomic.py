"""The emulator's DynamoDB applies a conditional write atomically, as DynamoDB does.

moto alone checks the condition and then writes, on one thread per request: two puts against the
same version could both pass and one update was lost (localcloud/moto_server.py). Here twelve writers
race for each version of one item: exactly one may win each round, however the threads interleave.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

WRITERS, ROUNDS = 12, 25
TABLE = f"race-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def table(aws):
    ddb = aws.client("dynamodb")
    ddb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=TABLE, Item={"id": {"S": "x"}, "version": {"N": "0"}})
    return ddb


def test_of_writers_racing_for_one_version_exactly_one_wins_each_round(table):
    def put(version: int, writer: int) -> bool:
        try:
            table.put_item(
                TableName=TABLE,
                Item={"id": {"S": "x"}, "version": {"N": str(version + 1)}, "writer": {"N": str(writer)}},
                ConditionExpression="version = :v",
                ExpressionAttributeValues={":v": {"N": str(version)}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    winners = []
    with ThreadPoolExecutor(WRITERS) as pool:
        for version in range(ROUNDS):
            winners.append(sum(pool.map(lambda w, v=version: put(v, w), range(WRITERS))))
    assert winners == [1] * ROUNDS
    final = table.get_item(TableName=TABLE, Key={"id": {"S": "x"}})["Item"]
    assert final["version"] == {"N": str(ROUNDS)}

"""Carts and sessions in DynamoDB: one item per cart, a version attribute, conditional writes.

Every write is ``PutItem`` with ``attribute_not_exists(cart_id) OR version = :read_version``
and the version incremented, so two writers that read the same version cannot both win:
the loser gets ``ConditionalCheckFailedException`` (StaleCart) and re-reads. Expired items
(``expires_at`` in the past) are treated as absent on read, because the local emulator never
deletes them and DynamoDB itself deletes them only eventually.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from decimal import Decimal

import boto3
from botocore.exceptions import ClientError

from services.cart.domain import Cart, expires_at
from services.cart.ports import CartStore, SessionStore, StaleCart


def _now() -> int:
    return int(time.time())


class DynamoCarts(CartStore):
    def __init__(self, table_name: str, region: str):
        self.table = boto3.resource("dynamodb", region_name=region).Table(table_name)

    async def get(self, cart_id: str) -> Cart:
        item = (await asyncio.to_thread(self.table.get_item, Key={"cart_id": cart_id}, ConsistentRead=True)).get("Item")
        if item is None:
            return Cart(cart_id)
        version = int(item["version"])
        if int(item.get("expires_at", 0)) <= _now():
            return Cart(cart_id, {}, version)  # expired: empty, but overwrite only what we read
        return _cart(cart_id, item)

    async def save(self, cart: Cart, ttl_s: int) -> Cart:
        item = {
            "cart_id": cart.cart_id,
            "lines": {p: Decimal(q) for p, q in cart.lines.items()},
            "version": cart.version + 1,
            "updated_at": _now(),
            "expires_at": expires_at(ttl_s),
        }
        try:
            await asyncio.to_thread(
                self.table.put_item,
                Item=item,
                ConditionExpression="attribute_not_exists(cart_id) OR version = :v",
                ExpressionAttributeValues={":v": cart.version},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise StaleCart(cart.cart_id) from None
            raise
        return Cart(cart.cart_id, dict(cart.lines), cart.version + 1)

    async def delete(self, cart_id: str) -> None:
        await asyncio.to_thread(self.table.delete_item, Key={"cart_id": cart_id})

    async def take(self, cart_id: str, units: dict[str, int], ttl_s: int) -> Cart | None:
        """One ``UpdateItem``: each line less its units, the version incremented, on condition that the cart is
        there, unexpired, and holds at least that many of each. A line left at 0 stays in the item until the next
        ``save`` and is not read as a line."""
        if not units:
            return None
        now = _now()
        names, values = {"#l": "lines", "#v": "version"}, {":now": now, ":exp": expires_at(ttl_s), ":one": 1}
        changes, conditions = [], ["attribute_exists(cart_id)", "expires_at > :now"]
        for i, (product_id, quantity) in enumerate(sorted(units.items())):
            names[f"#p{i}"], values[f":q{i}"] = product_id, quantity
            changes.append(f"#l.#p{i} = #l.#p{i} - :q{i}")
            conditions.append(f"#l.#p{i} >= :q{i}")
        changes += ["#v = #v + :one", "updated_at = :now", "expires_at = :exp"]
        try:
            answer = await asyncio.to_thread(
                self.table.update_item,
                Key={"cart_id": cart_id},
                UpdateExpression="SET " + ", ".join(changes),
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return _cart(cart_id, answer["Attributes"])

    async def ping(self) -> None:
        await asyncio.to_thread(lambda: self.table.table_status)


def _cart(cart_id: str, item: dict) -> Cart:
    """A stored, unexpired item as a cart (a line at 0, left by ``take``, is no line)."""
    lines = {p: int(q) for p, q in item.get("lines", {}).items() if int(q) > 0}
    return Cart(cart_id, lines, int(item["version"]))


class DynamoSessions(SessionStore):
    def __init__(self, table_name: str, region: str):
        self.table = boto3.resource("dynamodb", region_name=region).Table(table_name)

    async def create(self, ttl_s: int) -> str:
        session_id = secrets.token_urlsafe(24)
        item = {"session_id": session_id, "created_at": _now(), "expires_at": expires_at(ttl_s)}
        await asyncio.to_thread(self.table.put_item, Item=item, ConditionExpression="attribute_not_exists(session_id)")
        return session_id

    async def valid(self, session_id: str) -> bool:
        item = (await asyncio.to_thread(self.table.get_item, Key={"session_id": session_id})).get("Item")
        return item is not None and int(item.get("expires_at", 0)) > _now()

    async def end(self, session_id: str) -> None:
        await asyncio.to_thread(self.table.delete_item, Key={"session_id": session_id})

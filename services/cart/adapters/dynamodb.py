"""Carts and sessions in DynamoDB: one item per cart, a version attribute, conditional writes.

A read-modify-write is ``PutItem`` with ``attribute_not_exists(cart_id) OR version = :read_version``
and the version incremented, so two writers that read the same version cannot both win:
the loser gets ``ConditionalCheckFailedException`` (StaleCart) and re-reads. Expired items
(``expires_at`` in the past) are treated as absent on read, because the local emulator never
deletes them and DynamoDB itself deletes them only eventually.

The usual writes skip the read (issue 13): adding or setting one line (``write_line``) and
checkout's ``take`` are one conditional ``UpdateItem`` whose condition is
the rules on the stored item; when it fails, the caller falls back to the read-modify-write.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from decimal import Decimal

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from services.cart.domain import Cart, expires_at
from services.cart.ports import CartStore, SessionStore, StaleCart

_WIRE = TypeDeserializer()


def _now() -> int:
    return int(time.time())


class DynamoCarts(CartStore):
    def __init__(self, table_name: str, region: str):
        self.table = boto3.resource("dynamodb", region_name=region).Table(table_name)

    async def get(self, cart_id: str) -> Cart:
        item = (await asyncio.to_thread(self.table.get_item, Key={"cart_id": cart_id}, ConsistentRead=True)).get("Item")
        return _stored(cart_id, item)

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

    async def write_line(
        self,
        cart_id: str,
        product_id: str,
        quantity: int,
        *,
        adding: bool,
        most: int,
        max_lines: int,
        ttl_s: int,
        if_match: int | None,
    ) -> tuple[Cart, bool]:
        """One ``UpdateItem``: the line ``lines.<product> = if_not_exists(lines.<product>, 0) + quantity`` when
        ``adding`` (else ``= quantity``), the version incremented, ``updated_at``/``expires_at`` refreshed, on the
        condition that the cart is stored (``attribute_exists``), unexpired (``expires_at > now``: an expired cart
        reads as empty), has a ``lines`` map, is at version ``if_match`` if given (else the version is whatever it is:
        an atomic update loses no concurrent add), and keeps within ``max_lines``: the map's size (lines at 0
        included, so it bounds the lines ``_cart`` reads from above) is at most ``max_lines`` when the product already
        has a key, below it when the product is new. Adding, the line must also stay within ``0 <= lines.<product> <=
        most - quantity`` when it is in the map: that is the read-modify-write's rules on the stored item, since
        ``check_stock`` and ``Cart.set`` accept a new total exactly when it is at most ``most`` (``domain.most_units``)
        and the line is the stored value (0 when absent or 0, as ``_cart`` reads it; a negative one, which no write
        makes, defers). Setting, the quantity itself is checked against ``most`` here, whatever the line held.

        Any other case defers: a cart holding more lines than allowed (a lowered limit), a full map with lines at 0,
        a failed condition. The item ``ReturnValuesOnConditionCheckFailure`` gives back is then the read of the slow
        path, so a deferred change costs no more calls than before (a read and a write)."""
        if not 0 < quantity <= most:
            return await self.get(cart_id), False
        bound = most - quantity if adding else None
        now = _now()
        names = {"#l": "lines", "#p": product_id, "#v": "version"}
        values = {":q": quantity, ":one": 1, ":now": now, ":exp": expires_at(ttl_s), ":lines": max_lines}
        if bound is None:
            line, held = "#l.#p = :q", "attribute_exists(#l.#p)"
        else:
            values |= {":zero": 0, ":bound": bound}
            line, held = "#l.#p = if_not_exists(#l.#p, :zero) + :q", "#l.#p BETWEEN :zero AND :bound"
        conditions = ["attribute_exists(cart_id)", "expires_at > :now", "attribute_exists(#l)"]  # size() needs #l
        if if_match is not None:
            conditions.append("#v = :v")
            values[":v"] = if_match
        conditions.append(f"(({held} AND size(#l) <= :lines) OR (attribute_not_exists(#l.#p) AND size(#l) < :lines))")
        try:
            answer = await asyncio.to_thread(
                self.table.update_item,
                Key={"cart_id": cart_id},
                UpdateExpression=f"SET {line}, #v = #v + :one, updated_at = :now, expires_at = :exp",
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                old = exc.response.get("Item")  # the low-level form: the resource converts only answers
                return _stored(cart_id, {k: _WIRE.deserialize(v) for k, v in old.items()} if old else None), False
            raise
        return _cart(cart_id, answer["Attributes"]), True

    async def ping(self) -> None:
        await asyncio.to_thread(lambda: self.table.table_status)


def _stored(cart_id: str, item: dict | None) -> Cart:
    """What a read of the item means: none is an empty new cart; an expired one is empty at its stored version."""
    if item is None:
        return Cart(cart_id)
    if int(item.get("expires_at", 0)) <= _now():
        return Cart(cart_id, {}, int(item["version"]))  # expired: empty, but overwrite only what we read
    return _cart(cart_id, item)


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

"""The ProfileRepository port on PostgreSQL (Aurora in AWS): statements written in SQLAlchemy Core, compiled once
at import and run on asyncpg (``services.common.db``).

Every statement filters on the caller's ``sub``, so one user's id can never reach another's
row. Writes that check a rule first (the address limit, the single default) lock the user's
profile row, so two concurrent requests of one user cannot both pass the check. A read of one
statement runs as its own transaction.
"""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert

from services.common.db import Database, Query, Session
from services.profile.adapters.tables import addresses, profiles
from services.profile.domain import (
    Address,
    AddressBookFull,
    AddressFields,
    Profile,
    ProfileFields,
)
from services.profile.ports import ProfileRepository

ADDRESS_COLUMNS = tuple(AddressFields.__dataclass_fields__)
PROFILE_COLUMNS = tuple(ProfileFields.__dataclass_fields__)


def _bound(names: tuple[str, ...]) -> dict[str, Any]:
    """Each column named given the parameter of its name."""
    return {name: bindparam(name) for name in names}


_SUB = bindparam("sub", type_=profiles.c.sub.type)
_ID = bindparam("address_id", type_=addresses.c.id.type)
_MINE = (addresses.c.sub == _SUB, addresses.c.id == _ID)
PROFILE = Query(select(profiles).where(profiles.c.sub == _SUB))
NEW_PROFILE = Query(insert(profiles).values(sub=_SUB, email=bindparam("email")).on_conflict_do_nothing())
SET_EMAIL = Query(update(profiles).where(profiles.c.sub == _SUB).values(email=bindparam("email")).returning(profiles))
UPDATE_PROFILE = Query(
    update(profiles)
    .where(profiles.c.sub == _SUB)
    .values(_bound(PROFILE_COLUMNS) | {"updated_at": func.now()})
    .returning(profiles)
)
LOCK_USER = Query(select(profiles.c.sub).where(profiles.c.sub == _SUB).with_for_update())
ADDRESSES = Query(select(addresses).where(addresses.c.sub == _SUB).order_by(addresses.c.created_at, addresses.c.id))
ADDRESS = Query(select(addresses).where(*_MINE))
COUNT_ADDRESSES = Query(select(func.count()).where(addresses.c.sub == _SUB))
_defaults = update(addresses).where(addresses.c.sub == _SUB, addresses.c.is_default)
CLEAR_DEFAULT = Query(_defaults.values(is_default=False, updated_at=func.now()))
CLEAR_OTHER_DEFAULT = Query(
    _defaults.where(addresses.c.id != bindparam("keep", type_=addresses.c.id.type)).values(
        is_default=False, updated_at=func.now()
    )
)
NEW_ADDRESS = Query(addresses.insert().values(_bound(ADDRESS_COLUMNS) | {"id": _ID, "sub": _SUB}).returning(addresses))
IS_MINE = Query(select(addresses.c.id).where(*_MINE))
REPLACE_ADDRESS = Query(
    update(addresses).where(*_MINE).values(_bound(ADDRESS_COLUMNS) | {"updated_at": func.now()}).returning(addresses)
)
DELETE_ADDRESS = Query(addresses.delete().where(*_MINE))


class PostgresProfiles(ProfileRepository):
    def __init__(self, database: Database):
        self.database = database

    async def profile(self, sub: str, email: str) -> Profile:
        async with self.database.transaction() as conn:
            return _profile(await _ensure_profile(conn, sub, email))

    async def find(self, sub: str) -> Profile | None:
        row = await self.database.fetchrow(PROFILE, {"sub": sub})
        return _profile(row) if row else None

    async def update_profile(self, sub: str, email: str, fields: ProfileFields) -> Profile:
        async with self.database.transaction() as conn:
            await _ensure_profile(conn, sub, email)
            row = await conn.fetchrow(UPDATE_PROFILE, _values(fields, PROFILE_COLUMNS) | {"sub": sub})
            return _profile(_one(row))

    async def addresses(self, sub: str) -> list[Address]:
        return [_address(r) for r in await self.database.fetch(ADDRESSES, {"sub": sub})]

    async def address(self, sub: str, address_id: UUID) -> Address | None:
        row = await self.database.fetchrow(ADDRESS, {"sub": sub, "address_id": address_id})
        return _address(row) if row else None

    async def add_address(self, sub: str, email: str, fields: AddressFields, limit: int) -> Address:
        async with self.database.transaction() as conn:
            await _ensure_profile(conn, sub, email)
            await _lock_user(conn, sub)
            count = await conn.fetchval(COUNT_ADDRESSES, {"sub": sub})
            if count >= limit:
                raise AddressBookFull(limit)
            is_default = fields.is_default or count == 0
            if is_default:
                await _clear_default(conn, sub)
            values = _values(fields, ADDRESS_COLUMNS) | {"is_default": is_default}
            row = await conn.fetchrow(NEW_ADDRESS, values | {"sub": sub, "address_id": uuid.uuid4()})
            return _address(_one(row))

    async def replace_address(self, sub: str, address_id: UUID, fields: AddressFields) -> Address | None:
        async with self.database.transaction() as conn:
            await _lock_user(conn, sub)
            mine = {"sub": sub, "address_id": address_id}
            if await conn.fetchrow(IS_MINE, mine) is None:
                return None
            if fields.is_default:
                await _clear_default(conn, sub, keep=address_id)
            row = await conn.fetchrow(REPLACE_ADDRESS, _values(fields, ADDRESS_COLUMNS) | mine)
            return _address(_one(row))

    async def delete_address(self, sub: str, address_id: UUID) -> bool:
        return await self.database.execute(DELETE_ADDRESS, {"sub": sub, "address_id": address_id}) == 1


async def _ensure_profile(conn: Session, sub: str, email: str) -> Any:
    """The profile row, inserted empty if this is the user's first visit (concurrent first visits are safe)."""
    row = await conn.fetchrow(PROFILE, {"sub": sub})
    if row is None:
        await conn.execute(NEW_PROFILE, {"sub": sub, "email": email})
        row = _one(await conn.fetchrow(PROFILE, {"sub": sub}))
    elif email and row["email"] != email:  # the address changed in Cognito
        row = _one(await conn.fetchrow(SET_EMAIL, {"sub": sub, "email": email}))
    return row


async def _lock_user(conn: Session, sub: str) -> None:
    await conn.execute(LOCK_USER, {"sub": sub})


async def _clear_default(conn: Session, sub: str, keep: UUID | None = None) -> None:
    if keep is None:
        await conn.execute(CLEAR_DEFAULT, {"sub": sub})
    else:
        await conn.execute(CLEAR_OTHER_DEFAULT, {"sub": sub, "keep": keep})


def _one(row: Any) -> Any:
    """The row a statement must return (as SQLAlchemy's ``Result.one()`` insisted)."""
    if row is None:
        raise LookupError("the statement returned no row")
    return row


def _values(fields: object, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(fields, name) for name in names}


def _profile(row: Any) -> Profile:
    fields = ProfileFields(**{name: row[name] for name in PROFILE_COLUMNS})
    return Profile(row["sub"], row["email"], fields, row["created_at"], row["updated_at"])


def _address(row: Any) -> Address:
    fields = AddressFields(**{name: row[name] for name in ADDRESS_COLUMNS})
    return Address(row["id"], fields, row["created_at"], row["updated_at"])

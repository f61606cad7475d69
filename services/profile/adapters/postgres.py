"""The ProfileRepository port on PostgreSQL (Aurora in AWS): SQLAlchemy 2 Core, async, psycopg 3.

Every statement filters on the caller's ``sub``, so one user's id can never reach another's
row. Writes that check a rule first (the address limit, the single default) lock the user's
profile row, so two concurrent requests of one user cannot both pass the check.
"""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

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


class PostgresProfiles(ProfileRepository):
    def __init__(self, engine: AsyncEngine):
        self.engine = engine

    async def profile(self, sub: str, email: str) -> Profile:
        async with self.engine.begin() as conn:
            return _profile(await _ensure_profile(conn, sub, email))

    async def find(self, sub: str) -> Profile | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(profiles).where(profiles.c.sub == sub))).first()
        return _profile(row._mapping) if row else None

    async def update_profile(self, sub: str, email: str, fields: ProfileFields) -> Profile:
        async with self.engine.begin() as conn:
            await _ensure_profile(conn, sub, email)
            row = (
                await conn.execute(
                    update(profiles)
                    .where(profiles.c.sub == sub)
                    .values(**_values(fields, PROFILE_COLUMNS), updated_at=func.now())
                    .returning(profiles)
                )
            ).one()
            return _profile(row._mapping)

    async def addresses(self, sub: str) -> list[Address]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(addresses).where(addresses.c.sub == sub).order_by(addresses.c.created_at, addresses.c.id)
            )
            return [_address(r._mapping) for r in rows]

    async def address(self, sub: str, address_id: UUID) -> Address | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(addresses).where(addresses.c.sub == sub, addresses.c.id == address_id))
            ).first()
            return _address(row._mapping) if row else None

    async def add_address(self, sub: str, email: str, fields: AddressFields, limit: int) -> Address:
        async with self.engine.begin() as conn:
            await _ensure_profile(conn, sub, email)
            await _lock_user(conn, sub)
            count = (await conn.execute(select(func.count()).where(addresses.c.sub == sub))).scalar_one()
            if count >= limit:
                raise AddressBookFull(limit)
            is_default = fields.is_default or count == 0
            if is_default:
                await _clear_default(conn, sub)
            values = _values(fields, ADDRESS_COLUMNS) | {"is_default": is_default}
            row = (
                await conn.execute(addresses.insert().values(id=uuid.uuid4(), sub=sub, **values).returning(addresses))
            ).one()
            return _address(row._mapping)

    async def replace_address(self, sub: str, address_id: UUID, fields: AddressFields) -> Address | None:
        async with self.engine.begin() as conn:
            await _lock_user(conn, sub)
            mine = select(addresses.c.id).where(addresses.c.sub == sub, addresses.c.id == address_id)
            if (await conn.execute(mine)).first() is None:
                return None
            if fields.is_default:
                await _clear_default(conn, sub, keep=address_id)
            row = (
                await conn.execute(
                    update(addresses)
                    .where(addresses.c.sub == sub, addresses.c.id == address_id)
                    .values(**_values(fields, ADDRESS_COLUMNS), updated_at=func.now())
                    .returning(addresses)
                )
            ).one()
            return _address(row._mapping)

    async def delete_address(self, sub: str, address_id: UUID) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(addresses.delete().where(addresses.c.sub == sub, addresses.c.id == address_id))
            return result.rowcount == 1


async def _ensure_profile(conn: AsyncConnection, sub: str, email: str) -> Any:
    """The profile row, inserted empty if this is the user's first visit (concurrent first visits are safe)."""
    row = (await conn.execute(select(profiles).where(profiles.c.sub == sub))).first()
    if row is None:
        await conn.execute(insert(profiles).values(sub=sub, email=email).on_conflict_do_nothing())
        row = (await conn.execute(select(profiles).where(profiles.c.sub == sub))).one()
    elif email and row.email != email:  # the address changed in Cognito
        row = (
            await conn.execute(update(profiles).where(profiles.c.sub == sub).values(email=email).returning(profiles))
        ).one()
    return row._mapping


async def _lock_user(conn: AsyncConnection, sub: str) -> None:
    await conn.execute(select(profiles.c.sub).where(profiles.c.sub == sub).with_for_update())


async def _clear_default(conn: AsyncConnection, sub: str, keep: UUID | None = None) -> None:
    query = update(addresses).where(addresses.c.sub == sub, addresses.c.is_default)
    if keep is not None:
        query = query.where(addresses.c.id != keep)
    await conn.execute(query.values(is_default=False, updated_at=func.now()))


def _values(fields: object, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(fields, name) for name in names}


def _profile(row: Any) -> Profile:
    fields = ProfileFields(**{name: row[name] for name in PROFILE_COLUMNS})
    return Profile(row["sub"], row["email"], fields, row["created_at"], row["updated_at"])


def _address(row: Any) -> Address:
    fields = AddressFields(**{name: row[name] for name in ADDRESS_COLUMNS})
    return Address(row["id"], fields, row["created_at"], row["updated_at"])

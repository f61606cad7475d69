"""The profile store on the database itself: the rules its row lock keeps under concurrency, and the writes no
HTTP test reaches (an e-mail changed in Cognito, a default moved by a replace)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from services.common import db
from services.profile.adapters.postgres import PostgresProfiles
from services.profile.domain import AddressBookFull, AddressFields, ProfileFields

SCHEMA = "profile"
HOME = AddressFields("Ada Lovelace", "12 St James's Square", "London", "GB", "SW1Y 4JH", label="Home")
WORK = AddressFields("Ada Lovelace", "1 Infinite Loop", "Cupertino", "US", "95014", label="Work")


@pytest.fixture
async def profiles(pg_url: str) -> AsyncIterator[PostgresProfiles]:
    url = pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
    await asyncio.to_thread(db.migrate, "services.profile", url, SCHEMA)
    database = await db.Database.connect(url, SCHEMA, max_size=8)
    try:
        yield PostgresProfiles(database)
    finally:
        await database.close()


async def test_concurrent_first_visits_adding_addresses_never_pass_the_limit_and_leave_one_default(profiles):
    """Eight requests of one new user at once, against a limit of three: the profile is made once, the user's row
    lock makes each count see the ones before it, so exactly three are added and exactly one is the default."""
    sub, limit = f"sub-{uuid.uuid4().hex[:8]}", 3

    async def add(n: int) -> str:
        try:
            await profiles.add_address(sub, "ada@example.com", replace(HOME, label=f"#{n}"), limit)
        except AddressBookFull:
            return "full"
        return "added"

    outcomes = await asyncio.gather(*(add(n) for n in range(8)))
    assert sorted(outcomes) == ["added"] * limit + ["full"] * (8 - limit)
    book = await profiles.addresses(sub)
    assert len(book) == limit
    assert [a.fields.is_default for a in book] == [True, False, False]  # the first one added, the only default


async def test_a_changed_email_is_recorded_and_a_replace_moves_the_default(profiles):
    sub = f"sub-{uuid.uuid4().hex[:8]}"
    first = await profiles.profile(sub, "ada@example.com")
    assert (first.sub, first.email, first.fields) == (sub, "ada@example.com", ProfileFields())
    changed = await profiles.update_profile(sub, "ada@new.example.com", ProfileFields("Ada", marketing_opt_in=True))
    assert (changed.email, changed.fields.display_name, changed.fields.marketing_opt_in) == (
        "ada@new.example.com",
        "Ada",
        True,
    )
    assert (await profiles.find(sub)) == changed

    home = await profiles.add_address(sub, "", HOME, 5)
    work = await profiles.add_address(sub, "", WORK, 5)
    assert (home.fields.is_default, work.fields.is_default) == (True, False)
    assert isinstance(home.id, uuid.UUID)
    moved = await profiles.replace_address(sub, work.id, replace(WORK, is_default=True))
    assert moved is not None
    assert moved.fields.is_default
    assert [(a.id, a.fields.is_default) for a in await profiles.addresses(sub)] == [(home.id, False), (work.id, True)]
    assert await profiles.address(sub, home.id) == (await profiles.addresses(sub))[0]

    assert await profiles.replace_address("someone-else", home.id, WORK) is None
    assert await profiles.address("someone-else", home.id) is None
    assert await profiles.delete_address(sub, home.id) is True
    assert await profiles.delete_address(sub, home.id) is False
    assert await profiles.find("nobody") is None

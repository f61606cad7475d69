"""The signed-in user's profile and address book, in PostgreSQL, as the gateway calls them."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from profile_support import PASSWORD, Person, fields_of, person, provision, running, settings_for

from localcloud.health import libpq_url
from localcloud.provision import Outputs
from services.common import db

HOME = {
    "label": "Home",
    "full_name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "sw1y 4jh",
    "country": "gb",
}
WORK = {
    "full_name": "Ada Lovelace",
    "line1": "1 Infinite Loop",
    "city": "Cupertino",
    "postal_code": "95014",
    "country": "US",
}


@pytest.fixture
def cloud(aws: Any, pg_url: str) -> Outputs:
    return provision(aws, pg_url)


@pytest.fixture
def settings(cloud: Outputs) -> Any:
    return settings_for(cloud, max_addresses=3)


@pytest.fixture
def ada(cloud: Outputs, aws: Any) -> Person:
    return person(aws.client("cognito-idp"), cloud.user_pool_id, "ada@example.com")


@pytest.fixture
def bob(cloud: Outputs, aws: Any) -> Person:
    return person(aws.client("cognito-idp"), cloud.user_pool_id, "bob@example.com")


async def test_the_first_visit_creates_an_empty_profile_with_the_callers_email(settings: Any, ada: Person) -> None:
    async with running(settings) as api:
        first = await api.get("/me", headers=ada.headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["sub"], body["email"], body["display_name"], body["marketing_opt_in"]) == (
        ada.sub,
        ada.email,
        "",
        False,
    )


async def test_a_new_users_profile_keeps_the_email_given_at_sign_up(settings: Any, cloud: Outputs, aws: Any) -> None:
    async with running(settings) as api:
        signed_up = await api.post("/auth/signup", json={"email": "Grace@Example.com", "password": PASSWORD})
        assert signed_up.status_code == 201, signed_up.text
        user = aws.client("cognito-idp").admin_get_user(UserPoolId=cloud.user_pool_id, Username="grace@example.com")
        sub = next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")
        # Access tokens carry no e-mail claim, so the gateway sends the sub alone.
        profile = await api.get("/me", headers={"X-Shop-User": sub})
    assert profile.json()["email"] == "grace@example.com"


async def test_a_user_changes_their_profile_and_reads_it_back(settings: Any, ada: Person) -> None:
    change = {"display_name": "  Ada L.  ", "phone": "+442071234567", "marketing_opt_in": True}
    async with running(settings) as api:
        put = await api.put("/me", json=change, headers=ada.headers)
        got = await api.get("/me", headers=ada.headers)
    assert put.status_code == 200, put.text
    assert got.json()["display_name"] == "Ada L."
    assert (got.json()["phone"], got.json()["marketing_opt_in"]) == ("+442071234567", True)


async def test_a_bad_profile_change_names_its_fields_and_changes_nothing(settings: Any, ada: Person) -> None:
    async with running(settings) as api:
        await api.put("/me", json={"display_name": "Ada"}, headers=ada.headers)
        rules = await api.put("/me", json={"display_name": "x" * 81, "phone": "0207 123"}, headers=ada.headers)
        types = await api.put("/me", json={"marketing_opt_in": "yes", "nickname": "A"}, headers=ada.headers)
        after = await api.get("/me", headers=ada.headers)
    assert (rules.status_code, fields_of(rules.json())) == (422, {"display_name", "phone"})
    assert (types.status_code, fields_of(types.json())) == (422, {"marketing_opt_in", "nickname"})
    assert after.json()["display_name"] == "Ada"


async def test_me_needs_a_signed_in_caller(settings: Any) -> None:
    async with running(settings) as api:
        anonymous = await api.get("/me")
        addresses = await api.get("/me/addresses")
    assert anonymous.status_code == addresses.status_code == 401


async def test_a_user_adds_reads_changes_and_deletes_an_address(settings: Any, ada: Person) -> None:
    async with running(settings) as api:
        created = await api.post("/me/addresses", json=HOME, headers=ada.headers)
        assert created.status_code == 201, created.text
        home = created.json()
        assert (home["country"], home["postal_code"], home["is_default"]) == ("GB", "SW1Y 4JH", True)
        assert created.headers["Location"] == f"/me/addresses/{home['id']}"

        got = await api.get(f"/me/addresses/{home['id']}", headers=ada.headers)
        assert got.json() == home

        changed = await api.put(f"/me/addresses/{home['id']}", json=HOME | {"line2": "Flat 2"}, headers=ada.headers)
        assert changed.status_code == 200, changed.text
        assert changed.json()["line2"] == "Flat 2"

        listed = await api.get("/me/addresses", headers=ada.headers)
        assert [a["line2"] for a in listed.json()["items"]] == ["Flat 2"]
        assert listed.json()["limit"] == 3

        deleted = await api.delete(f"/me/addresses/{home['id']}", headers=ada.headers)
        gone = await api.get(f"/me/addresses/{home['id']}", headers=ada.headers)
    assert deleted.status_code == 204
    assert gone.status_code == 404


async def test_a_new_default_address_replaces_the_old_default(settings: Any, ada: Person) -> None:
    async with running(settings) as api:
        home = (await api.post("/me/addresses", json=HOME, headers=ada.headers)).json()
        work = (await api.post("/me/addresses", json=WORK | {"is_default": True}, headers=ada.headers)).json()
        listed = (await api.get("/me/addresses", headers=ada.headers)).json()["items"]
    assert {a["id"]: a["is_default"] for a in listed} == {home["id"]: False, work["id"]: True}


async def test_another_users_address_is_not_found_and_stays_unchanged(settings: Any, ada: Person, bob: Person) -> None:
    async with running(settings) as api:
        home = (await api.post("/me/addresses", json=HOME, headers=ada.headers)).json()
        url = f"/me/addresses/{home['id']}"
        read = await api.get(url, headers=bob.headers)
        write = await api.put(url, json=WORK, headers=bob.headers)
        delete = await api.delete(url, headers=bob.headers)
        bobs = await api.get("/me/addresses", headers=bob.headers)
        still = await api.get(url, headers=ada.headers)
    assert read.status_code == write.status_code == delete.status_code == 404
    assert bobs.json()["items"] == []
    assert still.json() == home


async def test_a_bad_address_names_its_fields_and_writes_nothing(settings: Any, ada: Person) -> None:
    bad = HOME | {"country": "XX", "line1": "y" * 101, "label": "tab\there"}
    async with running(settings) as api:
        rules = await api.post("/me/addresses", json=bad, headers=ada.headers)
        postal = await api.post("/me/addresses", json=WORK | {"postal_code": "9501"}, headers=ada.headers)
        missing = await api.post("/me/addresses", json={"line1": "x", "is_default": "no"}, headers=ada.headers)
        bad_id = await api.get("/me/addresses/not-a-uuid", headers=ada.headers)
        listed = await api.get("/me/addresses", headers=ada.headers)
    assert (rules.status_code, fields_of(rules.json())) == (422, {"country", "line1", "label"})
    assert (postal.status_code, fields_of(postal.json())) == (422, {"postal_code"})
    assert "US" in postal.json()["detail"]
    assert (missing.status_code, fields_of(missing.json())) == (422, {"full_name", "city", "country", "is_default"})
    assert (bad_id.status_code, fields_of(bad_id.json())) == (422, {"address_id"})
    assert listed.json()["items"] == []


async def test_an_address_book_holds_at_most_the_configured_number(settings: Any, ada: Person) -> None:
    async with running(settings) as api:
        for _ in range(settings.max_addresses):
            assert (await api.post("/me/addresses", json=WORK, headers=ada.headers)).status_code == 201
        full = await api.post("/me/addresses", json=HOME, headers=ada.headers)
        listed = await api.get("/me/addresses", headers=ada.headers)
    assert full.status_code == 409
    assert full.json()["code"] == "address_book_full"
    assert len(listed.json()["items"]) == settings.max_addresses


async def test_the_service_is_ready_once_its_database_answers(settings: Any) -> None:
    async with running(settings) as api:
        ready = await api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"]["status"] == "up"


def test_the_migrations_build_the_schema_in_an_empty_database_and_rerun_as_no_ops(pg_url: str) -> None:
    url = pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
    db.migrate("services.profile", url, "profile")
    db.migrate("services.profile", url, "profile")
    with psycopg.connect(libpq_url(pg_url)) as conn:
        tables = conn.execute("select table_name from information_schema.tables where table_schema = 'profile'")
        assert {r[0] for r in tables} == {"profiles", "addresses", "alembic_version"}
        assert conn.execute("select version_num from profile.alembic_version").fetchall() == [("0001",)]


async def test_other_services_read_a_profile_by_sub_and_an_unknown_sub_is_a_404_naming_it(
    settings: Any, ada: Person
) -> None:
    async with running(settings) as api:
        await api.get("/me", headers=ada.headers)
        found = await api.get(f"/internal/profiles/{ada.sub}")
        missing = await api.get("/internal/profiles/nobody")
        malformed = await api.get("/internal/profiles/a b")
    assert (found.status_code, found.json()["email"]) == (200, ada.email)
    assert (missing.status_code, missing.json()["field"]) == (404, "sub")
    assert malformed.status_code == 422

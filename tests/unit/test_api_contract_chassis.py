"""The chassis' side of the API contract (issue 12): request types, the body guard, the OpenAPI post-processor, 405s."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, Query
from pydantic import BaseModel, TypeAdapter, ValidationError

from reference.bodies import IMAGE_TYPES, JSON_TYPES, body_rule
from services.catalog.domain import IMAGE_TYPES as CATALOG_IMAGE_TYPES
from services.common import types
from services.common.app import create_service_app
from services.common.errors import Conflict, NotFound
from services.common.identity import Admin, User
from services.common.openapi import errors
from services.common.settings import ServiceSettings


def refused(annotation: object, value: object) -> bool:
    try:
        TypeAdapter(annotation).validate_python(value)
    except ValidationError:
        return True
    return False


@pytest.mark.parametrize("value", ["a\x00b", "tab\there", "bell\x07", "\x9bc1"])
def test_text_refuses_nul_and_control_characters(value):
    assert refused(types.text(max_length=50), value)


def test_prose_keeps_line_breaks_and_tabs_but_not_nul():
    assert not refused(types.prose(max_length=50), "line one\n\tline two\r\n")
    assert refused(types.prose(max_length=50), "line\x00")


@pytest.mark.parametrize("value", ["\u200b\u200b", "\u2800", " \u3164 ", "Ada \u202eevol", "\u2066x\u2069"])
def test_names_refuse_invisible_only_text_and_bidi_controls(value):
    assert refused(types.name(max_length=50), value)


@pytest.mark.parametrize("value", ["Ada Lovelace", "Zoë", "李小龙", "O'Brien-Smith", "محمد"])
def test_names_of_people_pass(value):
    assert TypeAdapter(types.name(max_length=50)).validate_python(f"  {value} ") == value


@pytest.mark.parametrize("value", [True, False, "1", 217.0, 1 << 63, -(1 << 63) - 1])
def test_body_integers_are_strict_and_within_int64(value):
    assert refused(types.integer(), value)


@pytest.mark.parametrize("value", ["2.0", "1e3", "true", "", str(1 << 63), "9" * 40])
def test_query_integers_are_digits_within_int64(value):
    assert refused(types.query_int(), value)


def test_query_integers_take_digits():
    assert TypeAdapter(types.query_int(ge=1, le=10)).validate_python("7") == 7


def test_free_form_json_refuses_control_characters_and_huge_numbers_anywhere_inside():
    assert refused(types.FlatJson, {"a": {"b": ["ok", "no\x00"]}})
    assert refused(types.FlatJson, {"n": 1 << 64})
    assert refused(types.FlatJson, {"f": float("nan")})
    assert not refused(types.FlatJson, {"line1": "1 Main St", "n": 3})


def test_the_schema_documents_what_the_validators_enforce():
    assert TypeAdapter(types.text(max_length=5)).json_schema()["pattern"] == types.NO_CONTROL
    assert TypeAdapter(types.integer(ge=0)).json_schema() == {"type": "integer", "minimum": 0, "maximum": (1 << 63) - 1}


def test_the_image_upload_is_the_one_route_that_takes_images_and_the_catalog_agrees():
    assert body_rule("PUT", "/catalog/products/p-1/image").types == IMAGE_TYPES
    assert body_rule("PUT", "/catalog/products/p-1/stock").types == JSON_TYPES
    assert set(IMAGE_TYPES) == set(CATALOG_IMAGE_TYPES)


class Thing(BaseModel):
    quantity: types.integer(ge=1, le=10)  # type: ignore[valid-type]


def app():
    router = APIRouter(prefix="/things")

    @router.get("/{thing_id}", responses=errors(NotFound))
    async def read(thing_id: str, page: types.query_int(ge=1, le=5) = 1) -> dict[str, str]:  # type: ignore[valid-type]
        return {"id": thing_id}

    @router.patch("/{thing_id}", responses=errors(Conflict))
    async def change(thing_id: str, body: Thing, _: Admin) -> dict[str, str]:
        return {"id": thing_id}

    @router.delete("/{thing_id}")
    async def remove(thing_id: str, _: User, q: str = Query("")) -> dict[str, str]:
        return {"id": thing_id}

    return create_service_app("things", ServiceSettings(), [router])


def test_every_operation_lists_what_the_chassis_and_its_rules_can_answer_as_problem_json():
    document = app().openapi()
    item = document["paths"]["/things/{thing_id}"]
    assert set(item["get"]["responses"]) == {"200", "404", "405", "422"}
    assert set(item["patch"]["responses"]) == {"200", "400", "401", "403", "405", "409", "413", "415", "422"}
    assert set(item["delete"]["responses"]) == {"200", "401", "405", "422"}
    for operation in item.values():
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert list(response["content"]) == ["application/problem+json"], (status, response)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert "errors" in document["components"]["schemas"]["Problem"]["properties"]
    assert "Allow" in item["get"]["responses"]["405"]["headers"]


async def test_a_405_names_every_method_the_path_serves():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://t") as client:
        r = await client.post("/things/1", json={})
    assert r.status_code == 405
    assert r.headers["content-type"] == "application/problem+json"
    assert set(r.headers["allow"].split(", ")) == {"GET", "PATCH", "DELETE"}  # Starlette alone named only GET


async def test_a_chunked_body_past_the_limit_is_refused_without_being_read_whole():
    sent = []

    async def body():
        for _ in range(64):  # 4 MiB on offer, 1 MiB allowed
            sent.append(1)
            yield b"x" * 65536

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://t") as client:
        r = await client.patch("/things/1", content=body(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["field"] == "body"
    assert len(sent) <= 17  # it stopped asking for more just past 1 MiB


async def test_a_json_syntax_error_names_the_body_and_puts_the_offset_in_the_message():
    headers = {"content-type": "application/json", **{"X-Shop-User": "u", "X-Shop-Groups": "admin"}}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://t") as client:
        r = await client.patch("/things/1", content=b'{"quantity": ', headers=headers)
    assert r.status_code == 422
    error = r.json()["errors"][0]
    assert (error["field"], error["in"]) == ("body", "body")
    assert "not valid JSON at character" in error["message"]

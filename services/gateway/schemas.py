"""The gateway's own answers as models: the problem body of each error it gives (for its OpenAPI document)."""

from __future__ import annotations

from pydantic import BaseModel


class ProblemBody(BaseModel):
    """RFC 9457 problem+json, as every service and the gateway answer an error."""

    type: str
    title: str
    status: int
    detail: str
    request_id: str


PROBLEM_SCHEMA = ProblemBody.model_json_schema()


def problem(description: str) -> dict[str, object]:
    """An OpenAPI response entry: ``description``, with the problem body as its schema."""
    return {"description": description, "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}}}

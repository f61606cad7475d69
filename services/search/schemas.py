"""The search API's answers as pydantic models (the query parameters are checked by ``domain.make_query``)."""

from __future__ import annotations

from pydantic import BaseModel


class Hit(BaseModel):
    id: str
    name: str
    category: str
    price_minor: int
    currency: str
    image_url: str | None
    in_stock: bool


class Count(BaseModel):
    value: str
    count: int


class SearchPage(BaseModel):
    q: str
    items: list[Hit]
    total: int
    page: int
    page_size: int
    pages: int
    sort: str
    facets: dict[str, list[Count]]


class Suggestion(BaseModel):
    text: str
    product_id: str


class Suggestions(BaseModel):
    q: str
    suggestions: list[Suggestion]

"""The JSON shapes of the recommendations API."""

from __future__ import annotations

from pydantic import BaseModel

from services.recommendations import domain


class ItemOut(BaseModel):
    product_id: str
    name: str
    orders: int


class RecommendationsOut(BaseModel):
    source: domain.Source
    items: list[ItemOut]

    @classmethod
    def of(cls, r: domain.Recommendations) -> RecommendationsOut:
        items = [ItemOut(product_id=i.product_id, name=i.name, orders=i.orders) for i in r.items]
        return cls(source=r.source, items=items)

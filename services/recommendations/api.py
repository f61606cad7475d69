"""The recommendations service's routes (public: the gateway forwards /api/recommendations/... here).

Anonymous GETs are cached by the gateway for 60 s (reference/services.py). Recommendations
never fail a product page: an unknown product gets the popular list, not a 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel

from services.recommendations import domain
from services.recommendations.service import Recommender


def _recommender(request: Request) -> Recommender:
    return request.app.state.recommender


Reco = Annotated[Recommender, Depends(_recommender)]
Limit = Annotated[int, Query(ge=1, le=domain.MAX_LIMIT, description="at most this many")]

router = APIRouter(prefix="/recommendations", tags=["recommendations"])


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


@router.get(
    "/products/{product_id}/bought-together",
    summary="Products most often ordered with this one; the popular list when there are none",
)
async def bought_together(
    product_id: Annotated[str, Path(min_length=1, max_length=64)], reco: Reco, limit: Limit = domain.DEFAULT_LIMIT
) -> RecommendationsOut:
    return RecommendationsOut.of(await reco.for_product(product_id, limit))


@router.get("/popular", summary="The products in most confirmed orders")
async def popular(reco: Reco, limit: Limit = domain.DEFAULT_LIMIT) -> RecommendationsOut:
    return RecommendationsOut.of(await reco.popular(limit))

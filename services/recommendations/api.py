"""The recommendations service's routes (public: the gateway forwards /api/recommendations/... here).

Anonymous GETs are cached by the gateway for 60 s (reference/services.py). Recommendations
never fail a product page: an unknown product gets the popular list, not a 404.
"""

from __future__ import annotations

from fastapi import APIRouter

from services.recommendations import domain
from services.recommendations.deps import Limit, ProductId, Reco
from services.recommendations.schemas import RecommendationsOut

router = APIRouter(prefix="/recommendations", tags=["recommendations"])


@router.get(
    "/products/{product_id}/bought-together",
    summary="Products most often ordered with this one; the popular list when there are none",
)
async def bought_together(product_id: ProductId, reco: Reco, limit: Limit = domain.DEFAULT_LIMIT) -> RecommendationsOut:
    return RecommendationsOut.of(await reco.for_product(product_id, limit))


@router.get("/popular", summary="The products in most confirmed orders")
async def popular(reco: Reco, limit: Limit = domain.DEFAULT_LIMIT) -> RecommendationsOut:
    return RecommendationsOut.of(await reco.popular(limit))

"""The recommendations routes' dependencies, as ``Annotated`` aliases reading what the app's parts built."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request

from services.recommendations import domain
from services.recommendations.service import Recommender


def _recommender(request: Request) -> Recommender:
    return request.app.state.recommender


Reco = Annotated[Recommender, Depends(_recommender)]
Limit = Annotated[int, Query(ge=1, le=domain.MAX_LIMIT, description="at most this many")]
ProductId = Annotated[str, Path(min_length=1, max_length=64)]

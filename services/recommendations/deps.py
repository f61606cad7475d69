"""The recommendations routes' dependencies, as ``Annotated`` aliases reading what the app's parts built."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request

from services.common.types import query_int, text
from services.recommendations import domain
from services.recommendations.service import Recommender


def _recommender(request: Request) -> Recommender:
    return request.app.state.recommender


Reco = Annotated[Recommender, Depends(_recommender)]
Limit = Annotated[query_int(ge=1, le=domain.MAX_LIMIT), Query(description="at most this many")]
ProductId = Annotated[text(min_length=1, max_length=64), Path()]

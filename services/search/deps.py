"""What the routes depend on, as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.search.service import Search


def _search(request: Request) -> Search:
    return request.app.state.search


SearchDep = Annotated[Search, Depends(_search)]

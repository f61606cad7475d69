"""What the routes depend on, as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.catalog.service import Catalog
from services.catalog.settings import CatalogSettings


def _catalog(request: Request) -> Catalog:
    return request.app.state.catalog


def _settings(request: Request) -> CatalogSettings:
    return request.app.state.settings


CatalogDep = Annotated[Catalog, Depends(_catalog)]
SettingsDep = Annotated[CatalogSettings, Depends(_settings)]

"""Public reads under /catalog (the gateway forwards /api/catalog/... here) and the admin writes beside them.

Every read says how long it may be shared (``Cache-Control: public, max-age=N``, and ``Age`` when it comes
from the catalog's cache); every write says ``no-store``.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import RedirectResponse

from services.catalog import domain
from services.catalog.deps import CatalogDep, SettingsDep
from services.catalog.domain import (
    DEFAULT_PAGE_SIZE,
    IMAGE_TYPES,
    LISTING_MAX_AGE_S,
    MAX_PAGE_SIZE,
    Answer,
    Category,
    NewProduct,
)
from services.catalog.schemas import CategoryIn, ProductIn, ProductPatch, StockIn
from services.common import caching
from services.common.errors import Conflict, NotFound
from services.common.identity import Admin
from services.common.openapi import errors
from services.common.problems import Problem
from services.common.types import query_int, text

router = APIRouter(prefix="/catalog", tags=["catalog"])
JSON = "application/json"
PRODUCT_ID = Annotated[text(min_length=1, max_length=64), Path()]
SLUG = Annotated[text(min_length=1, max_length=64), Path()]


def _read(answer: Answer) -> Response:
    return Response(answer.body, media_type=JSON, headers=caching.public(answer.max_age_s, answer.age_s))


def _written(body: bytes, status_code: int = 200) -> Response:
    return Response(body, status_code=status_code, media_type=JSON, headers={"Cache-Control": caching.NO_STORE})


# --------------------------------------------------------------------------- reads


@router.get("/categories", summary="Every category with its product count")
async def list_categories(catalog: CatalogDep) -> Response:
    return _read(await catalog.categories())


@router.get("/categories/{slug}", summary="One category", responses=errors(NotFound))
async def get_category(catalog: CatalogDep, slug: SLUG) -> Response:
    return _read(await catalog.category(slug))


@router.get(
    "/products",
    summary="A page of products, optionally of one category, in a chosen order",
    responses=errors(NotFound, _404="no such category"),
)
async def list_products(
    catalog: CatalogDep,
    category: Annotated[text(max_length=64) | None, Query()] = None,
    page: Annotated[query_int(ge=1, le=100_000), Query()] = 1,
    page_size: Annotated[query_int(ge=1, le=MAX_PAGE_SIZE), Query()] = DEFAULT_PAGE_SIZE,
    sort: domain.Sort = domain.Sort.NAME,
) -> Response:
    return _read(await catalog.products(category, sort, domain.Page(page, page_size)))


@router.get("/products/{product_id}", summary="A product with its availability", responses=errors(NotFound))
async def get_product(catalog: CatalogDep, product_id: PRODUCT_ID) -> Response:
    return _read(await catalog.product(product_id))


@router.get(
    "/products/{product_id}/image",
    summary="Redirect to the product's image",
    status_code=307,
    response_class=RedirectResponse,
    responses={307: {"description": "to the image", "headers": {"Location": {"schema": {"type": "string"}}}}}
    | errors(NotFound, _404="no such product, or it has no image"),
)
async def get_image(catalog: CatalogDep, product_id: PRODUCT_ID) -> RedirectResponse:
    url = await catalog.image_url(product_id)
    return RedirectResponse(url, status_code=307, headers=caching.public(LISTING_MAX_AGE_S))


# --------------------------------------------------------------------------- admin writes


@router.post(
    "/categories",
    status_code=201,
    summary="Create a category (admin)",
    responses=errors(Conflict, _409="the slug exists"),
)
async def create_category(catalog: CatalogDep, _: Admin, body: CategoryIn) -> dict[str, str]:
    await catalog.create_category(Category(body.slug, body.name))
    return {"slug": body.slug, "name": body.name}


@router.post(
    "/products",
    status_code=201,
    summary="Create a product with its stock (admin)",
    responses=errors(Conflict, _409="the id or sku exists"),  # an unknown category is a 422 naming it
)
async def create_product(catalog: CatalogDep, _: Admin, body: ProductIn) -> Response:
    product = NewProduct(
        id=body.id or f"p-{uuid.uuid4().hex[:16]}",
        sku=body.sku,
        name=body.name,
        description=body.description,
        price_minor=body.price_minor,
        currency=body.currency,
        category=body.category,
        attributes=body.attributes,
        stock=body.stock,
    )
    return _written(await catalog.create_product(product), status_code=201)


@router.patch(
    "/products/{product_id}",
    summary="Change some fields of a product (admin)",
    responses=errors(NotFound, Conflict, _409="the sku exists"),
)
async def update_product(catalog: CatalogDep, _: Admin, product_id: PRODUCT_ID, body: ProductPatch) -> Response:
    return _written(await catalog.update_product(product_id, body.changes()))


@router.delete(
    "/products/{product_id}",
    status_code=204,
    summary="Delete a product, its stock and image (admin)",
    responses=errors(NotFound, Conflict, _409="stock of it is held"),
)
async def delete_product(catalog: CatalogDep, _: Admin, product_id: PRODUCT_ID) -> Response:
    await catalog.delete_product(product_id)
    return Response(status_code=204)


@router.put(
    "/products/{product_id}/stock",
    summary="Set the stock on hand (admin)",
    responses=errors(NotFound, Conflict, _409="less than what is held"),
)
async def set_stock(catalog: CatalogDep, _: Admin, product_id: PRODUCT_ID, body: StockIn) -> dict[str, Any]:
    return {"product_id": product_id, **await catalog.set_stock(product_id, body.on_hand)}


@router.put(
    "/products/{product_id}/image",
    summary="Upload the product's image (admin): the raw bytes, as image/png, jpeg, svg+xml or webp",
    responses=errors(NotFound),  # its body's types and size limit are reference/bodies.py's (services.common.openapi)
)
async def put_image(
    catalog: CatalogDep, settings: SettingsDep, _: Admin, product_id: PRODUCT_ID, request: Request
) -> dict[str, str]:
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type not in IMAGE_TYPES:
        detail = f"content type {content_type or '(none)'} is not an image; send {' or '.join(IMAGE_TYPES)}"
        raise Problem(detail, status=415, title="Unsupported media type", field="body")
    data = await _read_limited(request, settings.max_image_bytes)
    url = await catalog.upload_image(product_id, data, content_type)
    return {"product_id": product_id, "image_url": url}


async def _read_limited(request: Request, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            detail = f"the image may be at most {limit} bytes"
            raise Problem(detail, status=413, title="Content too large", field="body")
        chunks.append(chunk)
    return b"".join(chunks)

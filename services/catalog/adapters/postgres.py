"""Categories and products on PostgreSQL (Aurora): one query per read, one transaction per write.

Statements are SQL text (or SQLAlchemy Core on the tables), compiled once at import and run on asyncpg through the
chassis' ``Database`` (``services.common.db``); a read or a write of one statement runs as its own transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import DateTime, bindparam, func

from services.catalog import domain
from services.catalog.adapters import events
from services.catalog.adapters.tables import NEXT_VERSION, categories, inventory, products
from services.catalog.domain import Category, NewProduct, Page, Sort
from services.catalog.ports import CatalogStore
from services.common import db, secrets
from services.common.db import Database, Query

SCHEMA = "catalog"

ORDER_BY = {
    Sort.NAME: "name, id",
    Sort.PRICE: "price_minor, id",
    Sort.PRICE_DESC: "price_minor desc, id desc",
    Sort.NEWEST: "created_at desc, id desc",
}
SUMMARY = "id, sku, name, price_minor, currency, category_slug, image_key"
PRODUCT_PAGE = """
    select p.id, p.sku, p.name, p.description, p.price_minor, p.currency, p.attributes, p.category_slug,
           c.name as category_name, p.image_key, p.created_at, p.updated_at,
           coalesce(i.on_hand, 0) as on_hand, coalesce(i.reserved, 0) as reserved
    from products p join categories c on c.slug = p.category_slug left join inventory i on i.product_id = p.id
"""
PRODUCT = Query(PRODUCT_PAGE + "where p.id = :id")
PRODUCTS_BY_ID = Query(PRODUCT_PAGE + "where p.id = any(:ids)")
CATEGORIES_SQL = """
    select c.slug, c.name, count(p.id) as product_count
    from categories c left join products p on p.category_slug = c.slug
    {where} group by c.slug, c.name order by c.name
"""
CATEGORIES = Query(CATEGORIES_SQL.format(where=""))
CATEGORY = Query(CATEGORIES_SQL.format(where="where c.slug = :slug"))
# A page of a listing, by sort and whether it is one category's; and its count when past the last page (the window
# count has no row to ride on). Every interpolated part is one of the constants above, never input.
_IN_CATEGORY = {False: "", True: "where category_slug = :category"}
LISTING = {
    (sort, filtered): Query(
        f"select {SUMMARY}, count(*) over () as total from products {where} "  # noqa: S608
        f"order by {order} limit :limit offset :offset"
    )
    for sort, order in ORDER_BY.items()
    for filtered, where in _IN_CATEGORY.items()
}
COUNT = {filtered: Query(f"select count(*) from products {where}") for filtered, where in _IN_CATEGORY.items()}  # noqa: S608
PING = Query("select 1")

_CREATED = func.coalesce(bindparam("created_at", type_=DateTime(timezone=True)), func.now())
INSERT_CATEGORY = Query(categories.insert().values(slug=bindparam("slug"), name=bindparam("name")))
INSERT_PRODUCT = Query(
    products.insert().values(
        id=bindparam("id"),
        sku=bindparam("sku"),
        name=bindparam("name"),
        description=bindparam("description"),
        price_minor=bindparam("price_minor"),
        currency=bindparam("currency"),
        attributes=bindparam("attributes"),
        category_slug=bindparam("category_slug"),
        image_key=bindparam("image_key"),
        created_at=_CREATED,  # the seed's own time, else the column's default (now())
        updated_at=_CREATED,
    )
)
INSERT_STOCK = Query(inventory.insert().values(product_id=bindparam("id"), on_hand=bindparam("on_hand")))
HELD = Query("select reserved from inventory where product_id = :id for update")
DELETE = Query(products.delete().where(products.c.id == bindparam("id")).returning(products.c.image_key))
SET_IMAGE = Query(
    "update products p set image_key = :key, updated_at = now(), version = nextval('change_seq') "
    "from (select id, image_key as old from products where id = :id for update) o "
    "where p.id = o.id returning o.old"
)
# The seed: each table's rows in one statement, as arrays unnested (rows already there are left as they are).
SEED_CATEGORIES = Query(
    "insert into categories (slug, name)"
    " select * from unnest(cast(:slugs as varchar[]), cast(:names as varchar[]))"
    " on conflict do nothing returning slug"
)
SEED_PRODUCTS = Query(
    "insert into products"
    " (id, sku, name, description, price_minor, currency, attributes, category_slug, image_key, created_at, updated_at)"
    " select id, sku, name, description, price_minor, currency, attributes, category_slug, image_key,"
    " coalesce(created_at, now()), coalesce(created_at, now())"
    " from unnest(cast(:ids as varchar[]), cast(:skus as varchar[]), cast(:names as varchar[]),"
    " cast(:descriptions as text[]), cast(:prices as bigint[]), cast(:currencies as varchar[]),"
    " cast(:attributes as jsonb[]), cast(:categories as varchar[]), cast(:image_keys as varchar[]),"
    " cast(:created as timestamptz[]))"
    " as p(id, sku, name, description, price_minor, currency, attributes, category_slug, image_key, created_at)"
    " on conflict do nothing returning id"
)
SEED_STOCK = Query(
    "insert into inventory (product_id, on_hand)"
    " select * from unnest(cast(:ids as varchar[]), cast(:stock as integer[])) on conflict do nothing"
)
COLUMNS = {"sku", "name", "description", "price_minor", "currency", "attributes", "category_slug"}


def database_url(secret_id: str, region: str) -> str:
    """The psycopg URL of the database, from a Secrets Manager secret (as Aurora's are shaped)."""
    return secrets.database_url(secrets.read_secret(secret_id, region), "psycopg")


class PostgresCatalog(CatalogStore):
    def __init__(self, database: Database):
        self.database = database

    # ------------------------------------------------------------------ reads

    async def categories(self) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.database.fetch(CATEGORIES)]

    async def category(self, slug: str) -> dict[str, Any] | None:
        row = await self.database.fetchrow(CATEGORY, {"slug": slug})
        return dict(row) if row is not None else None

    async def products(self, category: str | None, sort: Sort, page: Page) -> tuple[list[dict[str, Any]], int]:
        filtered = bool(category)
        params = {"category": category, "limit": page.size, "offset": page.offset}
        rows = [dict(r) for r in await self.database.fetch(LISTING[sort, filtered], params)]
        if rows:
            total = rows[0]["total"]
        else:  # past the last page: the window count has no row to ride on
            total = await self.database.fetchval(COUNT[filtered], params)
        for r in rows:
            del r["total"]
            r["image_url"] = domain.image_url(r.pop("image_key"))
            r["category"] = r.pop("category_slug")
        return rows, total

    async def product(self, product_id: str) -> dict[str, Any] | None:
        row = await self.database.fetchrow(PRODUCT, {"id": product_id})
        return _product(row) if row is not None else None

    async def products_by_id(self, product_ids: Sequence[str]) -> list[dict[str, Any]]:
        if not product_ids:
            return []
        return [_product(r) for r in await self.database.fetch(PRODUCTS_BY_ID, {"ids": list(product_ids)})]

    async def ping(self) -> None:
        await self.database.fetchval(PING)

    # ------------------------------------------------------------------ writes

    async def create_category(self, category: Category) -> None:
        async with _Translated():
            await self.database.execute(INSERT_CATEGORY, {"slug": category.slug, "name": category.name})

    async def create_product(self, product: NewProduct) -> None:
        async with _Translated(product.category), self.database.transaction() as conn:
            await conn.execute(INSERT_PRODUCT, _product_row(product))
            await conn.execute(INSERT_STOCK, {"id": product.id, "on_hand": product.stock})
            await events.product_changed(conn, product.id)

    async def update_product(self, product_id: str, changes: dict[str, Any]) -> None:
        values = {("category_slug" if k == "category" else k): v for k, v in changes.items()}
        unknown = set(values) - COLUMNS
        if unknown:
            raise ValueError(f"not product columns: {sorted(unknown)}")
        async with _Translated(changes.get("category")), self.database.transaction() as conn:
            if await conn.fetchrow(_update(tuple(sorted(values))), values | {"product_id": product_id}) is None:
                raise domain.NotFound(f"no product {product_id}", field="id")
            await events.product_changed(conn, product_id)

    async def delete_product(self, product_id: str) -> str | None:
        async with self.database.transaction() as conn:
            reserved = await conn.fetchval(HELD, {"id": product_id})
            if reserved:
                raise domain.Conflict(
                    f"product {product_id} has {reserved} units held by reservations; release them first", field="id"
                )
            row = await conn.fetchrow(DELETE, {"id": product_id})
            if row is None:
                raise domain.NotFound(f"no product {product_id}", field="id")
            await events.product_deleted(conn, product_id)
            return row["image_key"]

    async def set_image(self, product_id: str, image_key: str) -> str | None:
        async with self.database.transaction() as conn:
            row = await conn.fetchrow(SET_IMAGE, {"id": product_id, "key": image_key})
            if row is None:
                raise domain.NotFound(f"no product {product_id}", field="id")
            await events.product_changed(conn, product_id)
        return row["old"]

    async def seed(self, cats: Sequence[Category], prods: Sequence[NewProduct]) -> tuple[int, int]:
        async with self.database.transaction() as conn:
            added_c = await conn.fetch(
                SEED_CATEGORIES, {"slugs": [c.slug for c in cats], "names": [c.name for c in cats]}
            )
            added_p = await conn.fetch(
                SEED_PRODUCTS,
                {
                    "ids": [p.id for p in prods],
                    "skus": [p.sku for p in prods],
                    "names": [p.name for p in prods],
                    "descriptions": [p.description for p in prods],
                    "prices": [p.price_minor for p in prods],
                    "currencies": [p.currency for p in prods],
                    "attributes": [p.attributes for p in prods],
                    "categories": [p.category for p in prods],
                    "image_keys": [p.image_key for p in prods],
                    "created": [p.created_at for p in prods],
                },
            )
            await conn.execute(SEED_STOCK, {"ids": [p.id for p in prods], "stock": [p.stock for p in prods]})
        return len(added_c), len(added_p)


@functools.cache
def _update(columns: tuple[str, ...]) -> Query:
    """The edit of these columns (some of ``COLUMNS``, sorted), compiled once per set of columns edited together."""
    stmt = products.update().where(products.c.id == bindparam("product_id"))
    stmt = stmt.values({c: bindparam(c) for c in columns} | {"updated_at": func.now(), "version": NEXT_VERSION})
    return Query(stmt.returning(products.c.id))


def _product(r: Any) -> dict[str, Any]:
    """A product row (``PRODUCT``'s columns) as the product page's JSON-ready dict."""
    return {
        "id": r["id"],
        "sku": r["sku"],
        "name": r["name"],
        "description": r["description"],
        "price_minor": r["price_minor"],
        "currency": r["currency"],
        "category": {"slug": r["category_slug"], "name": r["category_name"]},
        "attributes": r["attributes"],
        "image_url": domain.image_url(r["image_key"]),
        "availability": domain.availability(r["on_hand"], r["reserved"]),
        "created_at": r["created_at"].isoformat(),
        "updated_at": r["updated_at"].isoformat(),
    }


def _product_row(p: NewProduct) -> dict[str, Any]:
    """``INSERT_PRODUCT``'s parameters (``created_at`` None: now)."""
    return {
        "id": p.id,
        "sku": p.sku,
        "name": p.name,
        "description": p.description,
        "price_minor": p.price_minor,
        "currency": p.currency,
        "attributes": p.attributes,
        "category_slug": p.category,
        "image_key": p.image_key,
        "created_at": p.created_at,
    }


CONSTRAINTS = {
    "products_pkey": (domain.Conflict, "id", "a product with this id exists"),
    "products_sku_key": (domain.Conflict, "sku", "a product with this SKU exists"),
    "categories_pkey": (domain.Conflict, "slug", "a category with this slug exists"),
    "products_category_fkey": (domain.Invalid, "category", "no such category"),
    "products_price_not_negative": (domain.Invalid, "price_minor", "the price may not be negative"),
    "inventory_reserved_within_on_hand": (domain.Conflict, "on_hand", "stock may not go below what is reserved"),
}


class _Translated:
    """Turn a violated constraint into the domain error that names the field (the transaction is rolled back)."""

    def __init__(self, category: str | None = None):
        self.category = category

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, kind: type | None, exc: BaseException | None, tb: object) -> bool:
        if not isinstance(exc, db.IntegrityError):
            return False
        name = db.constraint_name(exc)
        if name not in CONSTRAINTS:
            return False
        error, field, detail = CONSTRAINTS[name]
        if field == "category" and self.category:
            detail = f"no category {self.category}"
        raise error(detail, field=field) from exc

"""Categories and products on PostgreSQL (Aurora): one query per read, one transaction per write."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.catalog import domain
from services.catalog.adapters import events
from services.catalog.adapters.tables import NEXT_VERSION, categories, inventory, products
from services.catalog.domain import Category, NewProduct, Page, Sort
from services.catalog.ports import CatalogStore
from services.common import db, secrets
from services.common.db import autocommit

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
PRODUCT = text(PRODUCT_PAGE + "where p.id = :id")
PRODUCTS_BY_ID = text(PRODUCT_PAGE + "where p.id = any(:ids)")
CATEGORIES = """
    select c.slug, c.name, count(p.id) as product_count
    from categories c left join products p on p.category_slug = c.slug
    {where} group by c.slug, c.name order by c.name
"""
COLUMNS = {"sku", "name", "description", "price_minor", "currency", "attributes", "category_slug"}


def database_url(secret_id: str, region: str) -> str:
    """The psycopg URL of the database, from a Secrets Manager secret (as Aurora's are shaped)."""
    return secrets.database_url(secrets.read_secret(secret_id, region), "psycopg")


class PostgresCatalog(CatalogStore):
    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self.single = autocommit(engine)  # a one-statement read: no BEGIN

    # ------------------------------------------------------------------ reads

    async def categories(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(text(CATEGORIES.format(where="")))).mappings()
            return [dict(r) for r in rows]

    async def category(self, slug: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            sql = text(CATEGORIES.format(where="where c.slug = :slug"))
            row = (await conn.execute(sql, {"slug": slug})).mappings().first()
            return dict(row) if row else None

    async def products(self, category: str | None, sort: Sort, page: Page) -> tuple[list[dict[str, Any]], int]:
        where = "where category_slug = :category" if category else ""
        # Every interpolated part is one of the constants above, never input.
        select = f"select {SUMMARY}, count(*) over () as total from products {where} "  # noqa: S608
        sql = text(select + f"order by {ORDER_BY[sort]} limit :limit offset :offset")
        params = {"category": category, "limit": page.size, "offset": page.offset}
        async with self.engine.connect() as conn:
            rows = [dict(r) for r in (await conn.execute(sql, params)).mappings()]
            if rows:
                total = rows[0]["total"]
            else:  # past the last page: the window count has no row to ride on
                total = (await conn.execute(text(f"select count(*) from products {where}"), params)).scalar_one()  # noqa: S608
        for r in rows:
            del r["total"]
            r["image_url"] = domain.image_url(r.pop("image_key"))
            r["category"] = r.pop("category_slug")
        return rows, total

    async def product(self, product_id: str) -> dict[str, Any] | None:
        async with self.single.connect() as conn:
            row = (await conn.execute(PRODUCT, {"id": product_id})).mappings().first()
        return _product(row) if row is not None else None

    async def products_by_id(self, product_ids: Sequence[str]) -> list[dict[str, Any]]:
        if not product_ids:
            return []
        async with self.single.connect() as conn:
            rows = (await conn.execute(PRODUCTS_BY_ID, {"ids": list(product_ids)})).mappings().all()
        return [_product(r) for r in rows]

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("select 1"))

    # ------------------------------------------------------------------ writes

    async def create_category(self, category: Category) -> None:
        async with _Translated(), self.engine.begin() as conn:
            await conn.execute(categories.insert().values(slug=category.slug, name=category.name))

    async def create_product(self, product: NewProduct) -> None:
        async with _Translated(product.category), self.engine.begin() as conn:
            await conn.execute(products.insert().values(_product_row(product)))
            await conn.execute(inventory.insert().values(product_id=product.id, on_hand=product.stock))
            await events.product_changed(conn, product.id)

    async def update_product(self, product_id: str, changes: dict[str, Any]) -> None:
        values = {("category_slug" if k == "category" else k): v for k, v in changes.items()}
        unknown = set(values) - COLUMNS
        if unknown:
            raise ValueError(f"not product columns: {sorted(unknown)}")
        async with _Translated(changes.get("category")), self.engine.begin() as conn:
            stmt = products.update().where(products.c.id == product_id)
            stmt = stmt.values(**values, updated_at=func.now(), version=NEXT_VERSION)
            result = await conn.execute(stmt.returning(products.c.id))
            if result.first() is None:
                raise domain.NotFound(f"no product {product_id}", field="id")
            await events.product_changed(conn, product_id)

    async def delete_product(self, product_id: str) -> str | None:
        async with self.engine.begin() as conn:
            held = await conn.execute(
                text("select reserved from inventory where product_id = :id for update"), {"id": product_id}
            )
            reserved = held.scalar()
            if reserved:
                raise domain.Conflict(
                    f"product {product_id} has {reserved} units held by reservations; release them first", field="id"
                )
            deleted = await conn.execute(
                products.delete().where(products.c.id == product_id).returning(products.c.image_key)
            )
            row = deleted.first()
            if row is None:
                raise domain.NotFound(f"no product {product_id}", field="id")
            await events.product_deleted(conn, product_id)
            return row.image_key

    async def set_image(self, product_id: str, image_key: str) -> str | None:
        sql = text(
            "update products p set image_key = :key, updated_at = now(), version = nextval('change_seq') "
            "from (select id, image_key as old from products where id = :id for update) o "
            "where p.id = o.id returning o.old"
        )
        async with self.engine.begin() as conn:
            row = (await conn.execute(sql, {"id": product_id, "key": image_key})).first()
            if row is None:
                raise domain.NotFound(f"no product {product_id}", field="id")
            await events.product_changed(conn, product_id)
        return row.old

    async def seed(self, cats: Sequence[Category], prods: Sequence[NewProduct]) -> tuple[int, int]:
        async with self.engine.begin() as conn:
            added_c = await conn.execute(
                insert(categories).on_conflict_do_nothing().returning(categories.c.slug),
                [{"slug": c.slug, "name": c.name} for c in cats],
            )
            added_p = await conn.execute(
                insert(products).on_conflict_do_nothing().returning(products.c.id), [_product_row(p) for p in prods]
            )
            n_products = len(added_p.all())
            await conn.execute(
                insert(inventory).on_conflict_do_nothing(),
                [{"product_id": p.id, "on_hand": p.stock} for p in prods],
            )
        return len(added_c.all()), n_products


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
    row = {
        "id": p.id,
        "sku": p.sku,
        "name": p.name,
        "description": p.description,
        "price_minor": p.price_minor,
        "currency": p.currency,
        "attributes": p.attributes,
        "category_slug": p.category,
        "image_key": p.image_key,
    }
    if p.created_at is not None:
        row["created_at"] = row["updated_at"] = p.created_at
    return row


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
        if not isinstance(exc, IntegrityError):
            return False
        name = db.constraint_name(exc)
        if name not in CONSTRAINTS:
            return False
        error, field, detail = CONSTRAINTS[name]
        if field == "category" and self.category:
            detail = f"no category {self.category}"
        raise error(detail, field=field) from exc

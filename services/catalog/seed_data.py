"""A deterministic catalog: the same products, ids, prices and stock on every run (fixed random seed).

Names come from word lists per category, so they read like a shop's and include the
awkward characters real ones have (apostrophes, inch marks, ampersands). Every product
gets an SVG card (the product's name on its category's colour) as its image.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from textwrap import wrap

from services.catalog.domain import Category, NewProduct, media_key

SEED = 20261124
NAMESPACE = uuid.UUID("7d0c6a52-6c2f-4b0e-9a8e-3f8a4c1d2b10")
SVG = "image/svg+xml"
EPOCH = datetime(2026, 11, 1, tzinfo=UTC)

COLOURS = ("black", "white", "navy", "charcoal", "olive", "sand", "burgundy", "sky blue", "forest green", "rust")
SIZES = ("XS", "S", "M", "L", "XL", "XXL")
BRANDS = (
    "Hartley & Co", "O'Neill Outdoor", "Nordvik", "Marlowe", "Baker's Dozen", "Kestrel", "Voltix", "Juniper Lane",
    "Ironclad", "Tidewater", "Maison Fleur", "Copperleaf", "Summit Peak", "D'Angelo", "Bramble & Birch", "Quillon",
)  # fmt: skip


@dataclass(frozen=True)
class Kind:
    """How one category's products are named and described."""

    slug: str
    name: str
    colour: str
    templates: tuple[str, ...]
    nouns: tuple[str, ...]
    materials: tuple[str, ...]
    price: tuple[int, int]  # whole currency units
    inches: tuple[int, ...] = (8, 10, 12, 14)


KINDS = (
    Kind("kitchen", "Kitchen & Dining", "#b5542f",
         ("{who} {inch}\" {material} {noun}", "{brand} {material} {noun}", "{adj} {material} {noun} Set"),
         ("Skillet", "Dutch Oven", "Saucepan", "Chef's Knife", "Cutting Board", "Wok", "Stockpot", "Kettle"),
         ("Cast-Iron", "Carbon-Steel", "Stainless", "Enamelled", "Copper", "Walnut", "Bamboo"), (9, 240)),
    Kind("mens-clothing", "Men's Clothing", "#34495e",
         ("Men's {adj} {material} {noun}", "{brand} Men's {noun}", "Men's {noun}, \"{adj}\" Fit"),
         ("Shirt", "Chinos", "Overshirt", "Hoodie", "Parka", "Polo", "Sweater", "Jeans"),
         ("Cotton", "Linen", "Merino", "Flannel", "Denim", "Fleece"), (15, 260)),
    Kind("womens-clothing", "Women's Clothing", "#8e4585",
         ("Women's {adj} {material} {noun}", "{brand} Women's {noun}", "Women's {noun}, \"{adj}\" Cut"),
         ("Dress", "Blouse", "Cardigan", "Trench Coat", "Skirt", "Jumpsuit", "Trousers", "Blazer"),
         ("Silk", "Linen", "Cashmere", "Cotton", "Wool", "Viscose"), (18, 320)),
    Kind("shoes", "Shoes", "#6d4c41",
         ("{brand} {adj} {noun}", "{adj} {material} {noun}", "Kids' {material} {noun}"),
         ("Runner", "Chelsea Boot", "Loafer", "Sneaker", "Hiking Boot", "Sandal", "Derby"),
         ("Leather", "Suede", "Canvas", "Mesh", "Nubuck"), (25, 280)),
    Kind("electronics", "Electronics", "#1f6feb",
         ("{brand} {inch}\" {noun} {model}", "{brand} {adj} {noun}", "{noun} {model} ({adj} Edition)"),
         ("Monitor", "Headphones", "Speaker", "Tablet", "Smartwatch", "E-Reader", "Webcam", "Keyboard"),
         ("Aluminium", "Matte", "Graphite"), (19, 1400), (13, 24, 27, 32)),
    Kind("home-decor", "Home Decor", "#c9a227",
         ("{adj} {material} {noun}", "{brand} {noun}", "{who} {material} {noun}"),
         ("Vase", "Throw Pillow", "Table Lamp", "Wall Mirror", "Candle Holder", "Rug", "Picture Frame"),
         ("Ceramic", "Rattan", "Brass", "Linen", "Marble", "Oak"), (12, 450)),
    Kind("toys", "Toys & Games", "#e74c3c",
         ("Kids' {adj} {noun}", "{brand} {noun} Kit", "{adj} {material} {noun}"),
         ("Building Blocks", "Puzzle (1000 pcs)", "Board Game", "Plush Bear", "Train Set", "Kite", "Art Set"),
         ("Wooden", "Plush", "Recycled-Plastic", "Cardboard"), (7, 120)),
    Kind("sports", "Sports & Fitness", "#16a085",
         ("{brand} {adj} {noun}", "{adj} {noun} ({kg} kg)", "Pro {material} {noun}"),
         ("Yoga Mat", "Dumbbell", "Kettlebell", "Tennis Racket", "Football", "Jump Rope", "Foam Roller"),
         ("Rubber", "Cork", "Neoprene", "Graphite", "Steel"), (8, 300)),
    Kind("outdoor", "Camping & Outdoor", "#2e7d32",
         ("{brand} {adj} {noun}", "{adj} {noun} ({litres} L)", "{who} {material} {noun}"),
         ("Backpack", "Tent", "Sleeping Bag", "Headlamp", "Water Bottle", "Camp Stove", "Hammock"),
         ("Ripstop", "Titanium", "Nylon", "Down", "Aluminium"), (10, 650)),
    Kind("garden", "Garden & Patio", "#558b2f",
         ("{adj} {material} {noun}", "{brand} {noun}", "{who} {material} {noun}"),
         ("Planter", "Watering Can", "Pruning Shears", "Bird Feeder", "Garden Hose", "Trowel", "Lantern"),
         ("Terracotta", "Galvanised", "Teak", "Stoneware", "Zinc"), (6, 380)),
    Kind("beauty", "Beauty & Care", "#d81b60",
         ("{brand} {adj} {noun}", "{adj} {noun} ({ml} ml)", "{who} {noun}"),
         ("Face Cream", "Shampoo", "Lip Balm", "Serum", "Body Wash", "Hand Cream", "Perfume"),
         ("Argan", "Shea", "Rose", "Aloe"), (5, 140)),
    Kind("office", "Office & Stationery", "#5d6d7e",
         ("{brand} {adj} {noun}", "{adj} {material} {noun}", "A5 {material} {noun}"),
         ("Notebook", "Fountain Pen", "Desk Organiser", "Planner", "Desk Lamp", "Pencil Case", "Stapler"),
         ("Leather", "Recycled-Paper", "Walnut", "Brass", "Felt"), (4, 220)),
)  # fmt: skip
ADJECTIVES = ("Classic", "Everyday", "Heritage", "Lightweight", "Premium", "Compact", "Rugged", "Slim", "Vintage")
WHO = ("Chef's", "Grandma's", "Baker's", "Explorer's", "Men's", "Women's", "Kids'", "Gardener's")


def product_id(index: int) -> str:
    """The stable id of the index-th seeded product."""
    return "p-" + uuid.uuid5(NAMESPACE, f"seed/{index}").hex[:16]


def categories() -> list[Category]:
    return [Category(k.slug, k.name) for k in KINDS]


def products(count: int = 1200, seed: int = SEED) -> list[NewProduct]:
    """``count`` products spread evenly over the categories; the same list for the same arguments."""
    rng = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
    out = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        brand, material = rng.choice(BRANDS), rng.choice(kind.materials)
        name = _name(rng, kind, brand, material)
        whole = rng.randint(*kind.price)
        cents = rng.choice((99, 95, 49, 0))
        attributes: dict[str, str | int] = {"brand": brand, "colour": rng.choice(COLOURS)}
        attributes["material"] = material
        if kind.slug in ("mens-clothing", "womens-clothing"):
            attributes["size"] = rng.choice(SIZES)
        elif kind.slug == "shoes":
            attributes["size"] = str(rng.randint(36, 47))
        attributes["weight_g"] = rng.randint(50, 5000)
        stock = 0 if rng.random() < 0.08 else rng.choice((1, 2, 3, 5, 8, 12, 25, 40, 75, 150, 300))
        pid = product_id(i)
        out.append(
            NewProduct(
                id=pid,
                sku=f"{kind.slug[:3].upper()}-{i:05d}",
                name=name,
                description=_description(rng, name, brand, attributes),
                price_minor=whole * 100 + cents,
                currency="USD",
                category=kind.slug,
                attributes=attributes,
                stock=stock,
                image_key=media_key(pid, SVG),
                created_at=EPOCH - timedelta(minutes=37 * i + rng.randint(0, 30)),
            )
        )
    return out


def _name(rng: random.Random, kind: Kind, brand: str, material: str) -> str:
    fields = {
        "who": rng.choice(WHO),
        "inch": rng.choice(kind.inches),
        "material": material,
        "noun": rng.choice(kind.nouns),
        "brand": brand,
        "adj": rng.choice(ADJECTIVES),
        "model": f"{rng.choice('XSZMQ')}{rng.randint(1, 9) * 100}",
        "kg": rng.choice((2, 4, 6, 8, 12, 16)),
        "litres": rng.choice((20, 28, 35, 45, 60)),
        "ml": rng.choice((30, 50, 100, 250, 500)),
    }
    return rng.choice(kind.templates).format(**fields)


def _description(rng: random.Random, name: str, brand: str, attributes: dict[str, str | int]) -> str:
    opener = rng.choice(("Made to last", "Designed for daily use", "A customer favourite", "Thoughtfully built"))
    return (
        f"{opener}: the {name} by {brand}, in {attributes['colour']} {attributes['material'].lower()}. "
        f"Ships in recyclable packaging; 30-day returns."
    )


def svg_card(product: NewProduct, category_name: str, colour: str) -> bytes:
    """A 400x400 card with the product's name, category and price: the seeded product image."""
    lines = wrap(product.name, 22)[:4]
    text = "".join(
        f'<text x="24" y="{150 + 34 * n}" font-size="28" font-weight="600" fill="#fff">{escape(line)}</text>'
        for n, line in enumerate(lines)
    )
    price = f"{product.price_minor // 100}.{product.price_minor % 100:02d} {product.currency}"
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400" viewBox="0 0 400 400">'
        f'<rect width="400" height="400" rx="24" fill="{colour}"/>'
        '<rect x="16" y="16" width="368" height="368" rx="16" fill="none" stroke="#ffffff55" stroke-width="2"/>'
        f'<text x="24" y="64" font-size="18" fill="#ffffffcc" font-family="sans-serif">{escape(category_name)}</text>'
        f'<g font-family="sans-serif">{text}</g>'
        f'<text x="24" y="360" font-size="24" fill="#fff" font-family="sans-serif">{escape(price)}</text>'
        "</svg>"
    ).encode()


def colour_of(slug: str) -> tuple[str, str]:
    kind = next(k for k in KINDS if k.slug == slug)
    return kind.name, kind.colour

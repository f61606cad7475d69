// Browsing: home, category, search (with facets), product page.
import { ApiError, cart, catalog, recommendations, search } from "../api.js";
import { h, go, money, announce, productGrid, availability, pager, placeholder } from "../ui.js";
import { track } from "../clickstream.js";

const SORTS = [["name", "Name"], ["price", "Price: low to high"], ["-price", "Price: high to low"], ["newest", "Newest"]];

export async function home() {
  const [categories, featured] = await Promise.all([
    catalog.categories().catch(() => []),
    popularProducts(8),
  ]);
  return h("div.page", {},
    h("section.hero", { "aria-labelledby": "hero-title" },
      h("h1", { id: "hero-title" }, "Everything for home, kitchen and the great outdoors"),
      h("p", {}, "1,200 products in 12 departments. Free returns for 30 days."),
    ),
    h("section", { "aria-labelledby": "departments" },
      h("h2", { id: "departments" }, "Shop by department"),
      h("ul.tiles", {}, categories.map((c) => h("li", {},
        h("a.tile", { href: `/c/${encodeURIComponent(c.slug)}` }, h("span", {}, c.name),
          h("span.muted", {}, `${c.product_count} products`))))),
    ),
    featured.products.length ? h("section", { "aria-labelledby": "featured" },
      h("h2", { id: "featured" }, featured.title),
      productGrid(featured.products, featured.title)) : null,
  );
}

/** The most ordered products, or the newest while nobody has ordered yet. */
async function popularProducts(limit) {
  try {
    const popular = await recommendations.popular(limit);
    if (popular.items.length >= 4) return { title: "Popular right now", products: await details(popular.items) };
  } catch {
    // recommendations are optional on the home page
  }
  const newest = await catalog.products({ sort: "newest", page_size: limit }).catch(() => ({ items: [] }));
  return { title: "New arrivals", products: newest.items };
}

/** Recommendation items carry ids and names only: fetch each product's card data (cached by the gateway). */
async function details(items) {
  const products = await Promise.all(items.map((i) => catalog.product(i.product_id).catch(() => null)));
  return products.filter(Boolean);
}

export async function category({ params: [slug], query }) {
  const page = Number(query.get("page")) || 1;
  const sort = query.get("sort") || "name";
  const [categories, listing] = await Promise.all([
    catalog.categories(),
    catalog.products({ category: slug, page, page_size: 24, sort }),
  ]);
  const current = categories.find((c) => c.slug === slug) || { name: slug };
  const href = (p, s = sort) => `/c/${encodeURIComponent(slug)}?sort=${s}&page=${p}`;
  const sortSelect = h("select", { id: "sort", name: "sort" },
    SORTS.map(([value, text]) => h("option", { value, selected: value === sort }, text)));
  sortSelect.addEventListener("change", (event) => go(href(1, event.target.value)));
  return h("div.page", {},
    breadcrumbs([["/", "Home"], [null, current.name]]),
    h("div.listing-head", {},
      h("h1", {}, current.name),
      h("p.muted", {}, `${listing.total} products`),
      h("div.sort", {}, h("label", { for: "sort" }, "Sort by"), sortSelect),
    ),
    productGrid(listing.items, `${current.name} products`),
    pager(listing.page, listing.pages, (p) => href(p)),
  );
}

function breadcrumbs(items) {
  return h("nav.breadcrumbs", { "aria-label": "Breadcrumb" }, h("ol", {}, items.map(([href, text], i) =>
    h("li", {}, href ? h("a", { href }, text) : h("span", { "aria-current": i === items.length - 1 ? "page" : null }, text)))));
}

// ------------------------------------------------------------------ search

// The page's own URL keeps the filters as the shopper picked them (category=, attr=name:value, price=low-high);
// the search API takes category, attr (repeatable), price_min and price_max in minor units.
const FACET_NAMES = { category: "Department", brand: "Brand", colour: "Colour", material: "Material", size: "Size", price: "Price" };
const SEARCH_SORTS = [["relevance", "Best match"], ...SORTS.filter(([v]) => v !== "name")];
let categoryNames = null;

function apiParams(query, page) {
  const params = { q: query.get("q"), page, page_size: 24, sort: query.get("sort") || undefined, category: query.get("category") || undefined };
  params.attr = query.getAll("attr");
  const [low, high] = (query.get("price") || "").split("-");
  if (low && low !== "*") params.price_min = low;
  if (high && high !== "*") params.price_max = high;
  return params;
}

function priceLabel(key, currency) {
  const [low, high] = key.split("-");
  if (low === "*") return `Under ${money(Number(high), currency)}`;
  if (high === "*") return `${money(Number(low), currency)} and up`;
  return `${money(Number(low), currency)} – ${money(Number(high), currency)}`;
}

/** Each facet as {name, param, values: [{value, label, count, checked}]}, for the page's own URL. */
function facetGroups(body, query, currency) {
  return Object.entries(body.facets || {}).map(([name, values]) => {
    const param = name === "category" || name === "price" ? name : "attr";
    const chosen = query.getAll(param);
    return {
      name, param,
      values: values.filter((v) => v.count > 0 || chosen.includes(param === "attr" ? `${name}:${v.value}` : v.value)).map((v) => ({
        value: param === "attr" ? `${name}:${v.value}` : v.value,
        label: name === "price" ? priceLabel(v.value, currency) : name === "category" ? categoryNames?.get(v.value) || v.value : v.value,
        count: v.count,
      })).map((v) => ({ ...v, checked: chosen.includes(v.value) })),
    };
  }).filter((g) => g.values.length);
}

export async function searchPage({ query }) {
  const q = (query.get("q") || "").trim();
  document.getElementById("search-input").value = q;
  if (!q) return h("div.page", {}, h("h1", {}, "Search"), h("p", {}, "Type what you are looking for in the search box above."));
  const page = Number(query.get("page")) || 1;
  let body;
  try {
    [body, categoryNames] = await Promise.all([
      search.products(apiParams(query, page)),
      categoryNames || catalog.categories().then((cs) => new Map(cs.map((c) => [c.slug, c.name]))).catch(() => new Map()),
    ]);
  } catch (error) {
    if (error instanceof ApiError && [0, 404, 502, 503, 504].includes(error.status)) return searchUnavailable(q);
    throw error;
  }
  const items = body.items || [];
  track("search", { query: q, result_count: body.total });
  const currency = items[0]?.currency || "USD";
  const groups = facetGroups(body, query, currency);
  const here = new URLSearchParams(query);
  const href = (p) => { here.set("page", p); return `/search?${here}`; };
  const sort = h("select", { id: "search-sort" },
    SEARCH_SORTS.map(([value, text]) => h("option", { value, selected: value === (query.get("sort") || "relevance") }, text)));
  sort.addEventListener("change", () => {
    const next = new URLSearchParams(query);
    next.set("sort", sort.value);
    next.delete("page");
    go(`/search?${next}`);
  });
  return h("div.page.search-page", {},
    h("div.listing-head", {},
      h("h1", {}, `Results for “${q}”`),
      h("p.muted", {}, `${body.total} ${body.total === 1 ? "product" : "products"}`),
      h("div.sort", {}, h("label", { for: "search-sort" }, "Sort by"), sort),
    ),
    h("div.with-facets", {},
      groups.length ? facetsForm(groups, query) : h("div"),
      h("div", {},
        items.length ? productGrid(items, `Results for ${q}`)
          : h("p.notice", {}, "Nothing matches. Try fewer words, or browse a department."),
        pager(body.page || page, body.pages || 1, href),
      ),
    ),
  );
}

function facetsForm(groups, query) {
  const form = h("form.facets", { "aria-label": "Filter results" },
    h("h2.visually-hidden", {}, "Filters"),
    groups.map((g) => h("fieldset", {},
      h("legend", {}, FACET_NAMES[g.name] || g.name),
      g.values.slice(0, 10).map((v, i) => {
        const id = `facet-${g.name}-${i}`;
        return h("div.check", {},
          h("input", { type: "checkbox", id, name: g.param, value: v.value, checked: v.checked, "data-group": g.name }),
          h("label", { for: id }, v.label, h("span.muted", {}, ` (${v.count})`)));
      }))),
  );
  form.addEventListener("change", (event) => {
    // One department and one price range at a time (the API takes one of each); attributes add up.
    const box = event.target;
    if (box.checked && box.name !== "attr") {
      for (const other of form.querySelectorAll(`input[name="${box.name}"]`)) if (other !== box) other.checked = false;
    }
    const next = new URLSearchParams({ q: query.get("q") });
    if (query.get("sort")) next.set("sort", query.get("sort"));
    for (const checked of form.querySelectorAll("input:checked")) next.append(checked.name, checked.value);
    go(`/search?${next}`);
  });
  return form;
}

async function searchUnavailable(q) {
  const categories = await catalog.categories().catch(() => []);
  return h("div.page", {},
    h("h1", {}, `Results for “${q}”`),
    h("p.notice.warning", { role: "status" }, "Search is not available right now. Browse a department instead:"),
    h("ul.tiles", {}, categories.map((c) => h("li", {}, h("a.tile", { href: `/c/${encodeURIComponent(c.slug)}` }, c.name)))),
  );
}

// ------------------------------------------------------------------ product page

export async function product({ params: [id] }) {
  const p = await catalog.product(id);
  const max = Math.max(1, Math.min(p.availability?.available ?? 1, 99));
  const soldOut = !p.availability?.in_stock || p.availability.available <= 0;
  const status = h("p.add-status", { role: "status" });
  const quantity = h("input", { id: "quantity", name: "quantity", type: "number", min: 1, max, value: 1, inputmode: "numeric", required: true });
  const addButton = h("button.primary", { type: "submit", disabled: soldOut }, soldOut ? "Sold out" : "Add to cart");
  const form = h("form.buy", {},
    h("div.field.inline", {}, h("label", { for: "quantity" }, "Quantity"), quantity),
    addButton,
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    addButton.disabled = true;
    status.className = "add-status";
    status.textContent = "Adding…";
    try {
      const n = Number(quantity.value);
      await cart.add(p.id, n);
      track("add_to_cart", { product_id: p.id, quantity: n });
      status.replaceChildren(`Added ${n} × ${p.name} to your cart. `, h("a", { href: "/cart" }, "View cart"));
      announce(`Added ${n} to your cart`);
    } catch (error) {
      status.className = "add-status error";
      status.textContent = error.describe ? error.describe() : String(error);
    } finally {
      addButton.disabled = false;
    }
  });
  const attributes = Object.entries(p.attributes || {});
  return h("div.page", {},
    breadcrumbs([["/", "Home"], [`/c/${encodeURIComponent(p.category.slug)}`, p.category.name], [null, p.name]]),
    h("article.product", {},
      h("img.product-image", { src: p.image_url || placeholder, alt: p.name, width: 520, height: 520 }),
      h("div.product-info", {},
        h("h1", {}, p.name),
        h("p.price.big", {}, money(p.price_minor, p.currency)),
        availability(p.availability),
        form,
        p.description ? h("p.description", {}, p.description) : null,
        attributes.length ? h("dl.attributes", {}, attributes.flatMap(([k, v]) =>
          [h("dt", {}, attributeName(k)), h("dd", {}, attributeValue(k, v))])) : null,
      ),
    ),
    await boughtTogether(p),
  );
}

function attributeName(key) {
  return { weight_g: "Weight", colour: "Colour" }[key] || key.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}

function attributeValue(key, value) {
  if (key === "weight_g") return new Intl.NumberFormat(navigator.language || "en-US", { style: "unit", unit: "gram" }).format(value);
  return String(value);
}

/** "Bought together" from recommendations; while nobody has ordered yet, more of the same department. */
async function boughtTogether(p) {
  let title = "Frequently bought together";
  let products = [];
  try {
    const body = await recommendations.boughtTogether(p.id, 4);
    if (body.source !== "bought-together") title = "Popular with other shoppers";
    products = await details(body.items.filter((i) => i.product_id !== p.id));
  } catch {
    products = [];
  }
  if (products.length < 2) {
    title = `More from ${p.category.name}`;
    const listing = await catalog.products({ category: p.category.slug, page_size: 5, sort: "newest" }).catch(() => ({ items: [] }));
    products = listing.items.filter((x) => x.id !== p.id).slice(0, 4);
  }
  if (!products.length) return null;
  return h("section.related", { id: "bought-together", "aria-labelledby": "related-title" },
    h("h2", { id: "related-title" }, title),
    productGrid(products, title));
}

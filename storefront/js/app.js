// The shell: header (categories, type-ahead, account, cart badge), the router, and the routes.
import { cart, catalog, search, session, auth } from "./api.js";
import { h, announce, flash } from "./ui.js";
import * as shop from "./views/shop.js";
import * as basket from "./views/cart.js";
import * as account from "./views/account.js";
import { track } from "./clickstream.js";

const routes = [
  [/^\/$/, shop.home],
  [/^\/c\/([^/]+)$/, shop.category],
  [/^\/search$/, shop.searchPage],
  [/^\/p\/([^/]+)$/, shop.product],
  [/^\/cart$/, basket.cartPage],
  [/^\/checkout$/, basket.checkoutPage, { signedIn: true }],
  [/^\/signin$/, account.signIn],
  [/^\/signup$/, account.signUp],
  [/^\/orders$/, account.orderList, { signedIn: true }],
  [/^\/orders\/([^/]+)$/, account.orderDetail, { signedIn: true }],
];

const main = document.getElementById("main");
let renderCount = 0;
let onScreen = ""; // the path and query rendered: a history step that changes only the hash (the skip link) keeps it

export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  render({ focus: true });
}

async function render({ focus = false } = {}) {
  const ticket = ++renderCount; // a slower earlier render must not overwrite a later one
  const url = new URL(location.href);
  onScreen = url.pathname + url.search;
  flash("");
  closeSuggestions();
  let view = notFound;
  let params = [];
  for (const [pattern, fn, options] of routes) {
    const match = url.pathname.match(pattern);
    if (!match) continue;
    if (options?.signedIn && !session.signedIn()) {
      return navigate(`/signin?next=${encodeURIComponent(url.pathname + url.search)}`, { replace: true });
    }
    view = fn;
    params = match.slice(1).map(decodeURIComponent);
    break;
  }
  main.setAttribute("aria-busy", "true");
  let content;
  try {
    content = await view({ params, query: url.searchParams, navigate });
  } catch (error) {
    content = errorPage(error);
  }
  if (ticket !== renderCount) return;
  main.replaceChildren(content);
  main.removeAttribute("aria-busy");
  track("page_view");
  const heading = main.querySelector("h1");
  document.title = heading ? `${heading.textContent} · cloudshop` : "cloudshop";
  markCurrentCategory(url.pathname);
  if (focus) {
    window.scrollTo(0, 0);
    heading?.setAttribute("tabindex", "-1");
    (heading || main).focus({ preventScroll: true });
    announce(document.title);
  }
}

function notFound() {
  return h("section.page", {}, h("h1", {}, "Page not found"),
    h("p", {}, "There is nothing at this address. ", h("a", { href: "/" }, "Back to the shop")));
}

function errorPage(error) {
  const text = error.describe ? error.describe() : String(error);
  return h("section.page", {}, h("h1", {}, error.status === 404 ? "Not found" : "Something went wrong"),
    h("p.notice.error", { role: "alert" }, text),
    h("p", {}, h("a", { href: "/" }, "Back to the shop")));
}

// ------------------------------------------------------------------ links

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href]");
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || /^\/(api|media)\//.test(url.pathname)) return;
  if (url.pathname === location.pathname && url.search === location.search && url.hash) return; // in-page anchor
  event.preventDefault();
  navigate(url.pathname + url.search);
});

window.addEventListener("popstate", () => {
  if (location.pathname + location.search !== onScreen) render({ focus: true });
});
window.addEventListener("shop:navigate", (event) => navigate(event.detail));

// ------------------------------------------------------------------ header: categories, account, cart badge

async function loadCategories() {
  try {
    const categories = await catalog.categories();
    document.getElementById("category-nav").replaceChildren(
      ...categories.map((c) => h("li", {}, h("a", { href: `/c/${encodeURIComponent(c.slug)}` }, c.name))),
    );
    markCurrentCategory(location.pathname);
  } catch {
    // The shop still works without the category bar; the home page says what failed.
  }
}

function markCurrentCategory(path) {
  for (const link of document.querySelectorAll("#category-nav a")) {
    if (link.getAttribute("href") === path) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function renderAccount() {
  const slot = document.getElementById("account-links");
  if (!session.signedIn()) {
    slot.replaceChildren(h("a", { href: "/signin" }, "Sign in"));
    return;
  }
  const signOut = async () => {
    await auth.signOut().catch(() => {});
    announce("Signed out");
    navigate("/");
  };
  slot.replaceChildren(
    h("a", { href: "/orders" }, "Orders"),
    h("button.link-button", { type: "button", onclick: signOut, title: session.email() }, "Sign out"),
  );
}

function renderCartCount(cartBody) {
  const count = cartBody?.item_count ?? 0;
  document.getElementById("cart-count").textContent = String(count);
  const link = document.getElementById("cart-link");
  link.setAttribute("aria-label", `Cart, ${count} ${count === 1 ? "item" : "items"}`);
  link.classList.toggle("has-items", count > 0);
}

window.addEventListener("shop:cart", (event) => renderCartCount(event.detail));
window.addEventListener("shop:auth", renderAccount);

// ------------------------------------------------------------------ type-ahead (WAI-ARIA combobox with a listbox)

const input = document.getElementById("search-input");
const list = document.getElementById("suggestions");
let suggestTimer = null;
let suggestTicket = 0;

function closeSuggestions() {
  list.hidden = true;
  list.replaceChildren();
  input.setAttribute("aria-expanded", "false");
  input.removeAttribute("aria-activedescendant");
}

function suggestionItems(body) {
  const raw = Array.isArray(body) ? body : body?.suggestions || body?.items || [];
  return raw.slice(0, 8).map((s) => (typeof s === "string" ? { text: s } : { text: s.text || s.name || s.title || "", id: s.product_id || s.id }))
    .filter((s) => s.text);
}

async function suggest() {
  const q = input.value.trim();
  const ticket = ++suggestTicket;
  if (q.length < 2) return closeSuggestions();
  let items = [];
  try {
    items = suggestionItems(await search.suggest(q));
  } catch {
    items = []; // no type-ahead while search is away; the form still submits
  }
  if (ticket !== suggestTicket) return;
  if (!items.length) return closeSuggestions();
  list.replaceChildren(...items.map((item, i) => h("li", {
    id: `suggestion-${i}`, role: "option", "aria-selected": "false", "data-text": item.text, "data-id": item.id || "",
    onmousedown: (event) => { event.preventDefault(); choose(item); },
  }, item.text)));
  list.hidden = false;
  input.setAttribute("aria-expanded", "true");
}

function choose(item) {
  closeSuggestions();
  if (item.id) navigate(`/p/${encodeURIComponent(item.id)}`);
  else {
    input.value = item.text;
    navigate(`/search?q=${encodeURIComponent(item.text)}`);
  }
}

function moveActive(step) {
  const options = [...list.children];
  if (!options.length) return;
  const current = options.findIndex((o) => o.getAttribute("aria-selected") === "true");
  const next = (current + step + options.length) % options.length;
  options.forEach((o, i) => o.setAttribute("aria-selected", String(i === next)));
  input.setAttribute("aria-activedescendant", options[next].id);
  options[next].scrollIntoView({ block: "nearest" });
}

input.addEventListener("input", () => {
  clearTimeout(suggestTimer);
  suggestTimer = setTimeout(suggest, 150);
});
input.addEventListener("keydown", (event) => {
  if (event.key === "ArrowDown") { event.preventDefault(); list.hidden ? suggest() : moveActive(1); }
  else if (event.key === "ArrowUp") { event.preventDefault(); moveActive(-1); }
  else if (event.key === "Escape" && !list.hidden) {
    event.preventDefault(); // close the list; a second Escape clears the field, as search fields do
    closeSuggestions();
  }
  else if (event.key === "Enter") {
    const active = list.querySelector('[aria-selected="true"]');
    if (active && !list.hidden) {
      event.preventDefault();
      choose({ text: active.dataset.text, id: active.dataset.id });
    }
  }
});
input.addEventListener("blur", () => setTimeout(closeSuggestions, 100));

document.getElementById("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const q = input.value.trim();
  if (q) navigate(`/search?q=${encodeURIComponent(q)}`);
});

// ------------------------------------------------------------------ start

loadCategories();
// Who is signed in comes from the gateway (the session cookie is HttpOnly); the routes that need a user wait for it.
session.load().then(() => {
  renderAccount();
  cart.get().catch(() => renderCartCount(null));
  render();
});

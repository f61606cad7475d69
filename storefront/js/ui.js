// Small DOM helpers shared by the views: element builder, money, announcements, forms.

/** h("a.card", {href: "/"}, "text", child): an element with attributes and children. */
export function h(tag, attrs = {}, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name);
  if (classes.length) el.className = classes.join(" ");
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    // The edge's CSP refuses inline handlers and style attributes (docs/edge.md): fail here, loudly.
    else if (/^on/i.test(key) || key === "style") throw new TypeError(`h(): no "${key}" attribute under the CSP`);
    else if (key === "class") el.className += (el.className ? " " : "") + value;
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

/** Go to a route of the shop (the router listens; views do not import it, it imports them). */
export function go(url) {
  window.dispatchEvent(new CustomEvent("shop:navigate", { detail: url }));
}

const formatters = new Map();

/** An amount in minor units (cents) as the shopper's locale writes it: money(18800, "USD") = "$188.00". */
export function money(minor, currency = "USD") {
  if (!formatters.has(currency)) {
    formatters.set(currency, new Intl.NumberFormat(navigator.language || "en-US", { style: "currency", currency }));
  }
  const formatter = formatters.get(currency);
  const digits = formatter.resolvedOptions().maximumFractionDigits;
  return formatter.format(minor / 10 ** digits);
}

export function date(iso) {
  if (!iso) return "";
  return new Intl.DateTimeFormat(navigator.language || "en-US", { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
}

/** Say something to screen-reader users without moving focus (cart updates, page changes). */
export function announce(text) {
  const region = document.getElementById("announcer");
  region.textContent = "";
  // A changed text node is what screen readers announce; the pause makes a repeat count as a change.
  setTimeout(() => (region.textContent = text), 50);
}

/** A page-level error (role=alert), cleared on the next navigation. */
export function flash(text) {
  const box = document.getElementById("flash");
  box.hidden = !text;
  box.textContent = text || "";
}

export function productCard(p) {
  return h("li.card", {},
    h("a.card-link", { href: `/p/${encodeURIComponent(p.id)}` },
      h("img", { src: p.image_url || placeholder, alt: "", width: 400, height: 400, loading: "lazy", decoding: "async" }),
      h("span.card-name", {}, p.name),
      p.price_minor !== undefined ? h("span.price", {}, money(p.price_minor, p.currency)) : null,
    ),
  );
}

// Resolved next to this module, so a published release finds its own copy.
export const placeholder = new URL("../favicon.svg", import.meta.url).href;

export function productGrid(products, label) {
  return h("ul.grid", { "aria-label": label }, products.map(productCard));
}

/** A labelled input with a slot for its error message; returns the wrapper. */
export function field({ label, name, type = "text", hint, ...attrs }) {
  const id = `f-${name}`;
  const hintId = hint ? `${id}-hint` : undefined;
  const input = type === "select"
    ? h("select", { id, name, ...attrs, options: undefined }, (attrs.options || []).map(([v, t]) => h("option", { value: v }, t)))
    : h("input", { id, name, type, ...attrs });
  input.setAttribute("aria-describedby", [hintId, `${id}-error`].filter(Boolean).join(" "));
  return h("div.field", { "data-field": name },
    h("label", { for: id }, label, attrs.required ? null : h("span.optional", {}, " (optional)")),
    hint ? h("p.hint", { id: hintId }, hint) : null,
    input,
    h("p.field-error", { id: `${id}-error` }),
  );
}

/** Show an ApiError on a form: each named field gets its message; the rest goes to the form's alert. */
export function showFormError(form, error) {
  clearFormErrors(form);
  const named = error.errors?.length ? error.errors : error.field ? [{ field: error.field, message: error.message }] : [];
  let first = null;
  for (const { field: name, message } of named) {
    const wrapper = form.querySelector(`[data-field="${name}"]`);
    if (!wrapper) continue;
    const input = wrapper.querySelector("input, select");
    input.setAttribute("aria-invalid", "true");
    wrapper.querySelector(".field-error").textContent = message;
    first ??= input;
  }
  const alert = form.querySelector(".form-error");
  alert.textContent = error.describe ? error.describe() : String(error.message || error);
  alert.hidden = false;
  (first || alert).focus?.();
}

export function clearFormErrors(form) {
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  for (const p of form.querySelectorAll(".field-error")) p.textContent = "";
  const alert = form.querySelector(".form-error");
  alert.hidden = true;
  alert.textContent = "";
}

export function formError() {
  return h("p.form-error", { role: "alert", tabindex: "-1", hidden: true });
}

export function availability(a) {
  if (!a || !a.in_stock || a.available <= 0) return h("p.stock.out", {}, "Sold out");
  if (a.available <= 5) return h("p.stock.low", {}, `Only ${a.available} left`);
  return h("p.stock.in", {}, "In stock");
}

export function pager(page, pages, hrefFor) {
  if (pages <= 1) return null;
  return h("nav.pager", { "aria-label": "Pages" },
    page > 1 ? h("a", { href: hrefFor(page - 1), rel: "prev" }, "← Previous") : h("span"),
    h("span", { "aria-current": "page" }, `Page ${page} of ${pages}`),
    page < pages ? h("a", { href: hrefFor(page + 1), rel: "next" }, "Next →") : h("span"),
  );
}

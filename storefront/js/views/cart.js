// The cart and the checkout.
import { ApiError, cart, checkout, me, session } from "../api.js";
import { track } from "../clickstream.js";
import { h, go, money, announce, field, formError, showFormError, clearFormErrors, placeholder } from "../ui.js";

function totals(body) {
  return Object.entries(body.totals_minor || {}).map(([currency, minor]) => money(minor, currency)).join(" + ") || money(0);
}

export async function cartPage() {
  const body = await cart.get();
  const page = h("div.page.cart-page");
  const status = h("p.form-error", { role: "alert", hidden: true });
  const draw = (c) => page.replaceChildren(h("h1", {}, "Your cart"), status, ...cartContent(c, update));

  async function update(action, message) {
    status.hidden = true;
    try {
      draw(await action());
      announce(message);
    } catch (error) {
      status.textContent = error.describe ? error.describe() : String(error);
      status.hidden = false;
      status.focus?.();
    }
  }

  draw(body);
  return page;
}

function cartContent(body, update) {
  if (!body.lines?.length) {
    return [h("p.notice", {}, "Your cart is empty. ", h("a", { href: "/" }, "Continue shopping"))];
  }
  const rows = body.lines.map((line) => {
    const qtyId = `qty-${line.product_id}`;
    const qty = h("input", { id: qtyId, type: "number", min: 0, max: 99, value: line.quantity, inputmode: "numeric" });
    qty.addEventListener("change", () => {
      const n = Math.max(0, Number(qty.value) || 0);
      update(() => (n ? cart.set(line.product_id, n) : cart.remove(line.product_id)),
        n ? `${line.name}: quantity ${n}` : `${line.name} removed from your cart`);
    });
    return h("li.cart-line", {},
      h("img", { src: line.image_url || placeholder, alt: "", width: 96, height: 96 }),
      h("div.cart-line-name", {},
        h("a", { href: `/p/${encodeURIComponent(line.product_id)}` }, line.name),
        h("span.muted", {}, `${money(line.unit_price_minor, line.currency)} each`),
        line.purchasable === false ? h("span.stock.out", {}, `Only ${line.available} available`) : null),
      h("div.cart-line-qty", {}, h("label", { for: qtyId }, "Quantity", h("span.visually-hidden", {}, ` of ${line.name}`)), qty),
      h("span.price", {}, money(line.line_total_minor, line.currency)),
      h("button.link-button", {
        type: "button",
        onclick: () => update(() => cart.remove(line.product_id), `${line.name} removed from your cart`),
      }, "Remove", h("span.visually-hidden", {}, ` ${line.name}`)),
    );
  });
  const problems = (body.problems || []).map((p) => (typeof p === "string" ? p : p.detail || p.message || JSON.stringify(p)));
  const signedIn = session.signedIn();
  return [
    h("ul.cart-lines", { "aria-label": "Items in your cart" }, rows),
    problems.length ? h("ul.notice.warning", {}, problems.map((p) => h("li", {}, p))) : null,
    h("div.cart-summary", {},
      h("p.total", {}, h("span", {}, `Subtotal (${body.item_count} ${body.item_count === 1 ? "item" : "items"})`),
        h("strong", { "data-testid": "cart-total" }, totals(body))),
      body.checkout_ready
        ? h("a.button.primary", { href: signedIn ? "/checkout" : "/signin?next=/checkout" },
          signedIn ? "Check out" : "Sign in to check out")
        : h("p.muted", {}, "Fix the items above to check out."),
    ),
  ];
}

// ------------------------------------------------------------------ checkout

const COUNTRIES = [["US", "United States"], ["CA", "Canada"], ["GB", "United Kingdom"], ["DE", "Germany"], ["FR", "France"],
  ["ES", "Spain"], ["IT", "Italy"], ["NL", "Netherlands"], ["JP", "Japan"]];

export async function checkoutPage() {
  const [body, addresses] = await Promise.all([cart.get(), me.addresses().catch(() => [])]);
  if (!body.lines?.length) {
    return h("div.page", {}, h("h1", {}, "Checkout"), h("p.notice", {}, "Your cart is empty. ", h("a", { href: "/" }, "Continue shopping")));
  }
  const saved = addresses.find((a) => a.is_default) || addresses[0] || {};
  const submit = h("button.primary", { type: "submit" }, `Place order · ${totals(body)}`);
  const form = h("form.checkout-form", { novalidate: true },
    formError(),
    h("fieldset", {},
      h("legend", {}, "Shipping address"),
      field({ label: "Full name", name: "name", autocomplete: "name", required: true, value: saved.full_name || "" }),
      field({ label: "Address", name: "line1", autocomplete: "address-line1", required: true, value: saved.line1 || "" }),
      field({ label: "Apartment, suite", name: "line2", autocomplete: "address-line2", value: saved.line2 || "" }),
      h("div.row", {},
        field({ label: "City", name: "city", autocomplete: "address-level2", required: true, value: saved.city || "" }),
        field({ label: "Postal code", name: "postal_code", autocomplete: "postal-code", required: true, value: saved.postal_code || "" }),
      ),
      field({ label: "Country", name: "country", type: "select", autocomplete: "country", required: true, options: COUNTRIES }),
    ),
    h("fieldset.payment", {},
      h("legend", {}, "Payment"),
      paymentOption("pm_card_ok", "Test card, always approved", true),
      paymentOption("pm_card_declined", "Test card, always declined", false),
    ),
    submit,
  );
  if (saved.country) form.elements.country.value = saved.country;

  // One key per attempt: a retry of the same order (double click, network error) reuses it; an edit makes a new one.
  let key = newKey();
  form.addEventListener("input", () => (key = newKey()));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const data = Object.fromEntries(new FormData(form));
    const missing = ["name", "line1", "city", "postal_code"].filter((n) => !data[n].trim());
    if (missing.length) {
      const errors = missing.map((n) => ({ field: n, message: "required" }));
      return showFormError(form, new ApiError(422, { title: "Missing fields", errors }));
    }
    const { payment_method: paymentMethod, ...address } = data;
    submit.disabled = true;
    submit.textContent = "Placing your order…";
    track("checkout_started");
    try {
      const placed = await placeOrder({ shipping_address: address, payment_method: paymentMethod }, key);
      track("order_placed", { order_id: placed.order_id });
      announce("Order placed");
      go(`/orders/${encodeURIComponent(placed.order_id)}?placed=1`);
    } catch (error) {
      showFormError(form, error instanceof ApiError ? explainCheckout(error) : new ApiError(0, { detail: String(error) }));
      submit.disabled = false;
      submit.textContent = `Place order · ${totals(body)}`;
    }
  });

  return h("div.page.checkout-page", {},
    h("h1", {}, "Checkout"),
    h("div.with-summary", {},
      form,
      h("aside.order-summary", { "aria-labelledby": "summary-title" },
        h("h2", { id: "summary-title" }, "Order summary"),
        h("ul", {}, body.lines.map((l) => h("li", {}, h("span", {}, `${l.quantity} × ${l.name}`), h("span", {}, money(l.line_total_minor, l.currency))))),
        h("p.total", {}, h("span", {}, "Total"), h("strong", {}, totals(body))),
        h("p.muted", {}, "Signed in as ", session.email()),
      ),
    ),
  );
}

// The saga's failure reasons (services/checkout) in the shopper's words; the service's detail follows.
const CHECKOUT_REASONS = {
  payment_declined: "The card was declined, and nothing was charged. Choose another payment method.",
  payment_timeout: "The payment did not answer in time, and nothing was charged. Try again in a moment.",
  out_of_stock: "Some items sold out while you were checking out. Review your cart.",
  cart_not_ready: "Your cart changed or cannot be bought as it is. Review your cart.",
  unavailable: "The shop could not complete the order right now, and nothing was charged. Try again in a moment.",
};

function explainCheckout(error) {
  const text = CHECKOUT_REASONS[error.code];
  if (!text) return error;
  const detail = error.message && error.message !== error.code ? ` (${error.message.replace(/_/g, " ")})` : "";
  return Object.assign(error, { errors: [], field: "", message: `${text}${detail}` });
}

function paymentOption(value, text, checked) {
  const id = `pm-${value}`;
  return h("div.check", {}, h("input", { type: "radio", id, name: "payment_method", value, checked }),
    h("label", { for: id }, text, h("code", {}, ` ${value}`)));
}

function newKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

/** POST /checkout; a 202 (the saga still running under a twin request) is polled until it has an order. */
async function placeOrder(body, key) {
  const { data, status } = await checkout.place(body, key);
  let current = data;
  for (let i = 0; status === 202 && !current.order_id && i < 30; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    current = await checkout.get(current.checkout_id);
  }
  if (!current.order_id) throw new ApiError(504, { title: "Still processing", detail: "Your order is still being processed; check your orders in a minute." });
  window.dispatchEvent(new CustomEvent("shop:cart", { detail: null }));
  cart.get().catch(() => {});
  return current;
}

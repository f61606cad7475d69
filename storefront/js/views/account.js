// Sign-up, sign-in, order history and order detail.
import { ApiError, auth, cart, orders } from "../api.js";
import { h, go, money, date, announce, field, formError, showFormError, clearFormErrors } from "../ui.js";

const PASSWORD_HINT = "At least 10 characters, with an upper-case letter, a lower-case letter and a digit.";

function nextFrom(query) {
  const next = query.get("next") || "/";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

/** After sign-in: the guest's cart joins the account's, then on to where the shopper was going. */
async function afterSignIn(next) {
  let merged = false;
  try {
    const body = await cart.merge();
    merged = Boolean(body?.item_count);
  } catch {
    cart.get().catch(() => {});
  }
  announce(merged ? "Signed in. Your cart was kept." : "Signed in.");
  if (["/signin", "/signup"].includes(location.pathname)) go(next); // unless the shopper went elsewhere meanwhile
}

function authForm({ title, submitText, fields, onSubmit, footer }) {
  const submit = h("button.primary", { type: "submit" }, submitText);
  const form = h("form.auth-form", { novalidate: true }, formError(), ...fields, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    submit.disabled = true;
    try {
      await onSubmit(Object.fromEntries(new FormData(form)), form);
    } catch (error) {
      showFormError(form, error instanceof ApiError ? error : new ApiError(0, { detail: String(error) }));
    } finally {
      submit.disabled = false;
    }
  });
  return h("div.page.narrow", {}, h("h1", {}, title), form, footer);
}

export function signIn({ query }) {
  const next = nextFrom(query);
  return authForm({
    title: "Sign in",
    submitText: "Sign in",
    fields: [
      field({ label: "E-mail", name: "email", type: "email", autocomplete: "username", required: true }),
      field({ label: "Password", name: "password", type: "password", autocomplete: "current-password", required: true }),
    ],
    async onSubmit({ email, password }) {
      await auth.signIn(email.trim(), password);
      await afterSignIn(next);
    },
    footer: h("p", {}, "New here? ", h("a", { href: `/signup?next=${encodeURIComponent(next)}` }, "Create an account")),
  });
}

export function signUp({ query }) {
  const next = nextFrom(query);
  return authForm({
    title: "Create an account",
    submitText: "Create account",
    fields: [
      field({ label: "E-mail", name: "email", type: "email", autocomplete: "email", required: true }),
      field({ label: "Password", name: "password", type: "password", autocomplete: "new-password", required: true, hint: PASSWORD_HINT }),
    ],
    async onSubmit({ email, password }, form) {
      const created = await auth.signUp(email.trim(), password);
      if (!created.confirmed) {
        form.replaceWith(confirmForm(email.trim(), password, next, created.code_sent_to));
        return;
      }
      await auth.signIn(email.trim(), password);
      await afterSignIn(next);
    },
    footer: h("p", {}, "Have an account? ", h("a", { href: `/signin?next=${encodeURIComponent(next)}` }, "Sign in")),
  });
}

function confirmForm(email, password, next, sentTo) {
  const submit = h("button.primary", { type: "submit" }, "Confirm");
  const form = h("form.auth-form", { novalidate: true },
    h("p.notice", { role: "status" }, `We sent a six-digit code to ${sentTo || email}.`),
    formError(),
    field({ label: "Confirmation code", name: "code", inputmode: "numeric", autocomplete: "one-time-code", required: true, pattern: "[0-9]{6}" }),
    submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    try {
      await auth.confirm(email, new FormData(form).get("code").trim());
      await auth.signIn(email, password);
      await afterSignIn(next);
    } catch (error) {
      showFormError(form, error);
    }
  });
  return form;
}

// ------------------------------------------------------------------ orders

const STATUS_TEXT = { pending: "Pending", confirmed: "Confirmed", paid: "Paid", fulfilled: "Shipped", cancelled: "Cancelled", refunded: "Refunded" };

function statusBadge(status) {
  return h(`span.status.status-${status}`, {}, STATUS_TEXT[status] || status);
}

export async function orderList({ query }) {
  const page = Number(query.get("page")) || 1;
  const body = await orders.list(page);
  if (!body.items.length && page === 1) {
    return h("div.page", {}, h("h1", {}, "Your orders"), h("p.notice", {}, "No orders yet. ", h("a", { href: "/" }, "Start shopping")));
  }
  return h("div.page", {},
    h("h1", {}, "Your orders"),
    h("table.orders", {},
      h("caption.visually-hidden", {}, "Your orders, newest first"),
      h("thead", {}, h("tr", {}, ["Order", "Placed", "Items", "Total", "Status"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, body.items.map((o) => h("tr", {},
        h("th", { scope: "row" }, h("a", { href: `/orders/${encodeURIComponent(o.order_id)}` }, shortId(o.order_id))),
        h("td", {}, date(o.created_at)),
        h("td", {}, String(o.lines.reduce((n, l) => n + l.quantity, 0))),
        h("td", {}, money(o.total_minor, o.currency)),
        h("td", {}, statusBadge(o.status)))))),
    body.next_page ? h("nav.pager", { "aria-label": "Pages" }, h("a", { href: `/orders?page=${body.next_page}` }, "Older orders →")) : null,
  );
}

function shortId(id) {
  return id.length > 16 ? `${id.slice(0, 12)}…` : id;
}

export async function orderDetail({ params: [id], query }) {
  const o = await orders.get(id);
  const a = o.shipping_address || {};
  return h("div.page", {},
    query.get("placed") ? h("p.notice.success", { role: "status", "data-testid": "confirmation" },
      h("strong", {}, "Thank you! Your order is placed."), " A confirmation is on its way to ", o.email, ".") : null,
    h("nav.breadcrumbs", { "aria-label": "Breadcrumb" }, h("ol", {}, h("li", {}, h("a", { href: "/orders" }, "Your orders")),
      h("li", {}, h("span", { "aria-current": "page" }, shortId(o.order_id))))),
    h("div.listing-head", {}, h("h1", {}, `Order ${shortId(o.order_id)}`), statusBadge(o.status)),
    h("p.muted", {}, `Placed ${date(o.created_at)} · order number `, h("code", {}, o.order_id)),
    h("table.order-lines", {},
      h("caption.visually-hidden", {}, "Items in this order"),
      h("thead", {}, h("tr", {}, ["Item", "Quantity", "Price", "Total"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, o.lines.map((l) => h("tr", {},
        h("th", { scope: "row" }, h("a", { href: `/p/${encodeURIComponent(l.product_id)}` }, l.name || l.product_id)),
        h("td", {}, String(l.quantity)),
        h("td", {}, money(l.unit_price_minor, o.currency)),
        h("td", {}, money(l.total_minor, o.currency))))),
      h("tfoot", {},
        h("tr", {}, h("th", { scope: "row", colspan: 3 }, "Subtotal"), h("td", {}, money(o.subtotal_minor, o.currency))),
        h("tr", {}, h("th", { scope: "row", colspan: 3 }, "Shipping"), h("td", {}, o.shipping_minor ? money(o.shipping_minor, o.currency) : "Free")),
        h("tr.grand", {}, h("th", { scope: "row", colspan: 3 }, "Total"), h("td", {}, money(o.total_minor, o.currency)))),
    ),
    h("section.address", { "aria-labelledby": "ship-to" },
      h("h2", { id: "ship-to" }, "Shipping to"),
      h("address", {}, [a.name, a.line1, a.line2, [a.postal_code, a.city].filter(Boolean).join(" "), a.country]
        .filter(Boolean).flatMap((line) => [line, h("br")]))),
    o.history?.length ? h("section", { "aria-labelledby": "history" }, h("h2", { id: "history" }, "History"),
      h("ol.history", {}, o.history.map((s) => h("li", {}, STATUS_TEXT[s] || s)))) : null,
  );
}

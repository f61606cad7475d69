// The shop's API client: every call goes to /api/... on the same origin (the front door), with the
// gateway's session cookie (never a token: the gateway keeps those) and the X-Shop-CSRF header, and
// turns problem+json answers into ApiError.

export class ApiError extends Error {
  constructor(status, problem = {}) {
    const errors = Array.isArray(problem.errors) ? problem.errors : [];
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.title = problem.title || "Something went wrong";
    this.code = problem.code || problem.reason || "";
    this.errors = errors.map((e) => ({ field: lastSegment(e.field || ""), message: e.message || "" }));
    this.field = lastSegment(problem.field || (errors[0] && errors[0].field) || "");
  }

  /** One sentence for the user: the title, and each bad field by name. */
  describe() {
    if (this.errors.length) return this.errors.map((e) => `${label(e.field)}: ${e.message}`).join(". ");
    if (this.field && !this.message.toLowerCase().startsWith(this.field)) return `${label(this.field)}: ${this.message}`;
    return this.message;
  }
}

function lastSegment(field) {
  return String(field).split(".").pop();
}

function label(field) {
  return field ? field.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase()) : "";
}

// ------------------------------------------------------------------ the session (kept by the gateway)

// The gateway is the shop's BFF: it keeps the Cognito tokens and gives this page only an HttpOnly session
// cookie (and the guest cart's id in another), which no script can read. The page knows who is signed in,
// never a token. Every call sends X-Shop-CSRF: the gateway honours its cookies only with it, and a forged
// cross-site form or image request cannot send it. docs/bff-sessions.md.
const CSRF = { "X-Shop-CSRF": "1" };
const LEGACY_KEYS = ["shop.tokens", "shop.cartSession"]; // where an older storefront kept tokens: never again

let current = { signed_in: false, email: "", groups: [], guest_cart: false };

export const session = {
  /** Ask the gateway who is signed in on this browser (at start, and after sign-in or sign-out). */
  async load() {
    for (const key of LEGACY_KEYS) localStorage.removeItem(key);
    try {
      const { data } = await request("GET", "/session");
      set(data);
    } catch {
      set(null);
    }
    return current;
  },
  signedIn: () => Boolean(current.signed_in),
  email: () => current.email || "",
  guestCart: () => Boolean(current.guest_cart),
};

function set(value) {
  const before = current.signed_in;
  current = { signed_in: false, email: "", groups: [], guest_cart: false, ...(value || {}) };
  if (before !== current.signed_in) emit("shop:auth");
}

function emit(name, detail) {
  window.dispatchEvent(new CustomEvent(name, { detail }));
}

// ------------------------------------------------------------------ transport

async function request(method, path, { body, headers = {}, retried = false } = {}) {
  const sent = { Accept: "application/json, application/problem+json", ...CSRF, ...headers };
  if (body !== undefined) sent["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(`/api${path}`, {
      method, headers: sent, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { title: "Network error", detail: "The shop could not be reached; check the connection and try again." });
  }
  const data = await parse(response);
  if (response.status === 401 && data?.title === "Session ended") {
    // Signed out elsewhere, or expired: the answer cleared the cookie. A read is asked again as a guest; a write
    // is not (it was meant for the signed-in shopper's cart or order).
    set(null);
    if (method === "GET" && !retried) return request(method, path, { body, headers, retried: true });
  }
  if (!response.ok) throw new ApiError(response.status, data || { title: response.statusText });
  return { data, status: response.status, headers: response.headers };
}

async function parse(response) {
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  if (!type.includes("json")) return null;
  try {
    return await response.json();
  } catch {
    return null;
  }
}

const get = (path, options) => request("GET", path, options).then((r) => r.data);
const query = (params) => {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const v of [].concat(value)) if (v !== undefined && v !== null && v !== "") search.append(key, v);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
};

// ------------------------------------------------------------------ the API, by service

export const catalog = {
  categories: () => get("/catalog/categories").then((d) => d.items),
  products: (params) => get(`/catalog/products${query(params)}`),
  product: (id) => get(`/catalog/products/${encodeURIComponent(id)}`),
};

export const search = {
  /** Full-text search with facets; throws ApiError (404/503 while the search service is away). */
  products: (params) => get(`/search${query(params)}`),
  suggest: (q) => get(`/search/suggest${query({ q })}`),
};

export const recommendations = {
  boughtTogether: (id, limit = 4) =>
    get(`/recommendations/products/${encodeURIComponent(id)}/bought-together${query({ limit })}`),
  popular: (limit = 8) => get(`/recommendations/popular${query({ limit })}`),
};

function cartChanged(cart) {
  emit("shop:cart", cart);
  return cart;
}

export const cart = {
  get: () => get("/cart").then(cartChanged),
  add: (productId, quantity) =>
    request("POST", "/cart/items", { body: { product_id: productId, quantity } }).then((r) => cartChanged(r.data)),
  set: (productId, quantity) =>
    request("PUT", `/cart/items/${encodeURIComponent(productId)}`, { body: { quantity } }).then((r) => cartChanged(r.data)),
  remove: (productId) =>
    request("DELETE", `/cart/items/${encodeURIComponent(productId)}`).then((r) => cartChanged(r.data)),
  /** After sign-in: the guest cart joins the user's; the gateway ends the guest session (its cookie). */
  async merge() {
    if (!session.guestCart()) return cart.get();
    const { data } = await request("POST", "/cart/merge");
    current.guest_cart = false;
    return cartChanged(data);
  },
};

export const auth = {
  signUp: (email, password) => request("POST", "/auth/signup", { body: { email, password } }).then((r) => r.data),
  confirm: (email, code) => request("POST", "/auth/confirm", { body: { email, code } }).then((r) => r.data),
  /** Sign in at the gateway: it keeps the tokens and sets the HttpOnly session cookie; the answer names the user. */
  async signIn(email, password) {
    const { data } = await request("POST", "/session", { body: { email, password } });
    set(data);
    return data;
  },
  /** Sign out: the gateway ends the session, refuses its access token from now on and revokes the refresh token. */
  async signOut() {
    try {
      await request("DELETE", "/session");
    } finally {
      set(null);
      cartChanged(null);
    }
  },
};

export const me = {
  addresses: () => get("/me/addresses").then((d) => d.items),
};

export const checkout = {
  /** Idempotency-Key: the caller keeps one key per attempt, so a retried click never buys twice. */
  place: (body, idempotencyKey) =>
    request("POST", "/checkout", { body, headers: { "Idempotency-Key": idempotencyKey } }),
  get: (id) => get(`/checkout/${encodeURIComponent(id)}`),
};

export const orders = {
  list: (page = 1) => get(`/orders${query({ page, page_size: 10 })}`),
  get: (id) => get(`/orders/${encodeURIComponent(id)}`),
};

// The shop's API client: every call goes to /api/... on the same origin (the front door).
// It keeps the guest cart session (X-Cart-Session) and the tokens in localStorage, refreshes
// the access token once on a 401, and turns problem+json answers into ApiError.

const SESSION_KEY = "shop.cartSession";
const TOKENS_KEY = "shop.tokens";

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

// ------------------------------------------------------------------ stored state

export const tokens = {
  get() {
    try {
      return JSON.parse(localStorage.getItem(TOKENS_KEY)) || null;
    } catch {
      return null;
    }
  },
  set(value) {
    localStorage.setItem(TOKENS_KEY, JSON.stringify(value));
    emit("shop:auth");
  },
  clear() {
    localStorage.removeItem(TOKENS_KEY);
    emit("shop:auth");
  },
  signedIn() {
    return Boolean(this.get()?.access_token);
  },
  email() {
    return this.get()?.email || "";
  },
};

export const cartSession = {
  get: () => localStorage.getItem(SESSION_KEY),
  set: (value) => localStorage.setItem(SESSION_KEY, value),
  clear: () => localStorage.removeItem(SESSION_KEY),
};

function emit(name, detail) {
  window.dispatchEvent(new CustomEvent(name, { detail }));
}

// ------------------------------------------------------------------ transport

let refreshing = null; // one refresh at a time, shared by every call that got a 401

async function request(method, path, { body, headers = {}, auth = true, retried = false, session = true } = {}) {
  const sent = { Accept: "application/json, application/problem+json", ...headers };
  const stored = tokens.get();
  if (auth && stored?.access_token) sent.Authorization = `Bearer ${stored.access_token}`;
  // A guest's cart lives under the session id; a signed-in user's under the user (merge joins them).
  if (session && !sent.Authorization && cartSession.get()) sent["X-Cart-Session"] = cartSession.get();
  if (body !== undefined) sent["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(`/api${path}`, {
      method, headers: sent, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { title: "Network error", detail: "The shop could not be reached; check the connection and try again." });
  }
  const issued = response.headers.get("X-Cart-Session");
  if (issued && !sent.Authorization) cartSession.set(issued);
  if (response.status === 401 && sent.Authorization && !retried && stored.refresh_token) {
    if (await refreshTokens()) return request(method, path, { body, headers, auth, session, retried: true });
  }
  const data = await parse(response);
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

async function refreshTokens() {
  refreshing ??= (async () => {
    const stored = tokens.get();
    try {
      const { data } = await request("POST", "/auth/refresh", {
        body: { refresh_token: stored.refresh_token }, auth: false, session: false,
      });
      tokens.set({ ...stored, ...data, refresh_token: data.refresh_token || stored.refresh_token });
      return true;
    } catch {
      tokens.clear(); // the refresh token was revoked or expired: signed out
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
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
  /** After sign-in: the guest cart joins the user's; the guest session ends. */
  async merge() {
    const session = cartSession.get();
    if (!session) return cart.get();
    const { data } = await request("POST", "/cart/merge", { headers: { "X-Cart-Session": session }, session: false });
    cartSession.clear();
    return cartChanged(data);
  },
};

function decodeClaims(jwt) {
  try {
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch {
    return {};
  }
}

export const auth = {
  signUp: (email, password) => request("POST", "/auth/signup", { body: { email, password }, auth: false, session: false }).then((r) => r.data),
  confirm: (email, code) => request("POST", "/auth/confirm", { body: { email, code }, auth: false, session: false }).then((r) => r.data),
  async signIn(email, password) {
    const { data } = await request("POST", "/auth/signin", { body: { email, password }, auth: false, session: false });
    tokens.set({ ...data, email: decodeClaims(data.id_token).email || email });
    return data;
  },
  async signOut() {
    try {
      await request("POST", "/auth/signout", { session: false });
    } finally {
      tokens.clear();
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
    request("POST", "/checkout", { body, headers: { "Idempotency-Key": idempotencyKey }, session: false }),
  get: (id) => get(`/checkout/${encodeURIComponent(id)}`),
};

export const orders = {
  list: (page = 1) => get(`/orders${query({ page, page_size: 10 })}`),
  get: (id) => get(`/orders/${encodeURIComponent(id)}`),
};

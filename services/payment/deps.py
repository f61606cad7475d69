"""What the routes depend on, as Annotated aliases reading ``request.app.state``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.payment.service import PaymentOrchestrator


def _orchestrator(request: Request) -> PaymentOrchestrator:
    return request.app.state.orchestrator


Orchestrator = Annotated[PaymentOrchestrator, Depends(_orchestrator)]

"""What the payment orchestrator needs from the outside world: a card provider and a payment store."""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from uuid import UUID

from reference.events import Event
from services.payment.domain import Attempt, AuthorizationRequest, Operation, Payment, PaymentStatus


class ProviderTimeout(Exception):
    """The provider did not answer in time: the operation may or may not have happened there."""


class ProviderError(Exception):
    """The provider answered with a server error (5xx): nothing was done there, asking again is safe."""


@dataclass(frozen=True, slots=True)
class ProviderResult:
    """The provider's answer: ``ok`` or ``declined``, its reference for the operation, and why if declined."""

    outcome: str
    provider_ref: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderCallback:
    """A provider's asynchronous notice of an outcome (a webhook); it may arrive more than once."""

    callback_id: str
    payment_id: UUID
    operation: Operation
    outcome: str
    provider_ref: str
    reason: str | None = None


CallbackHook = Callable[[ProviderCallback], Awaitable[None]]


class PaymentProvider(abc.ABC):
    """A card network or payment gateway.

    ``idempotency_key`` is passed on to the provider: asking again with the same key returns
    the first outcome and moves no money twice, so a call that timed out can be retried
    safely. Timeouts raise ProviderTimeout.
    """

    @abc.abstractmethod
    async def authorize(
        self, idempotency_key: str, amount_minor: int, currency: str, payment_method: str
    ) -> ProviderResult: ...

    @abc.abstractmethod
    async def capture(self, idempotency_key: str, authorization: str, amount_minor: int) -> ProviderResult: ...

    @abc.abstractmethod
    async def void(self, idempotency_key: str, authorization: str) -> ProviderResult:
        """Release a hold; releasing one that does not exist (a lost authorization) succeeds too."""

    @abc.abstractmethod
    async def refund(self, idempotency_key: str, capture: str, amount_minor: int) -> ProviderResult: ...

    def on_callback(self, hook: CallbackHook) -> None:  # noqa: B027 - providers without webhooks ignore it
        """Register where the provider's asynchronous outcome notices go."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Stop anything the provider runs in the background."""


class PaymentRepository(abc.ABC):
    """Payments, their provider attempts and the provider's callbacks.

    A state change is one atomic write (``move``): the attempt, the move and the event the service built for it
    commit together or not at all. The store builds no events: it writes the one it is given, with the move.
    """

    @abc.abstractmethod
    async def claim(self, request: AuthorizationRequest, payment_id: UUID) -> tuple[Payment, bool]:
        """Insert a pending payment for the request's key, or return the one the key already has.

        The boolean says whether this call created it (and so must call the provider).
        """

    @abc.abstractmethod
    async def reclaim(self, payment_id: UUID, stale_after_s: float) -> bool:
        """Take over a payment left pending longer than ``stale_after_s`` (its caller died); True if taken."""

    @abc.abstractmethod
    async def get(self, payment_id: UUID) -> Payment | None: ...

    @abc.abstractmethod
    async def find(self, *, order_id: str | None = None, customer_sub: str | None = None) -> list[Payment]: ...

    @abc.abstractmethod
    async def attempts(self, payment_id: UUID) -> list[Attempt]: ...

    @abc.abstractmethod
    async def move(
        self,
        payment_id: UUID,
        sources: frozenset[PaymentStatus],
        target: PaymentStatus,
        *,
        reason: str | None,
        provider_ref: str | None,
        event: Event,
        attempt: Attempt | None = None,
    ) -> Payment | None:
        """If the payment is still in one of ``sources``, move it to ``target`` (a compare-and-set) and write
        ``event`` to the outbox; ``attempt`` is recorded either way. All of it atomically (one statement where the
        store can).

        Returns the moved payment, or None when another caller moved it first (nothing but the attempt written).
        """

    @abc.abstractmethod
    async def record_attempt(self, attempt: Attempt) -> None:
        """Record a provider call that moved nothing (a refused or unanswered capture, void or refund)."""

    @abc.abstractmethod
    async def record_callback(self, callback: ProviderCallback) -> tuple[bool, Payment | None]:
        """Remember a provider callback and read its payment (one round trip where the store can): False when its
        id was seen before (a duplicate), and the payment as it is now (None if there is none)."""

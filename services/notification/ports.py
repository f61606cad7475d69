"""What the notification service needs from outside: templates, a mail sender and a record of what was sent."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from services.notification.domain import Contact, Email, Notice


class Templates(abc.ABC):
    """Renders an e-mail from a template name and its values; raises if the template is missing or broken."""

    @abc.abstractmethod
    def render(self, template: str, to: str, values: dict[str, Any]) -> Email: ...


class Mailer(abc.ABC):
    """Sends one e-mail (SES); returns the provider's message id, raises if it was not accepted."""

    @abc.abstractmethod
    async def send(self, email: Email) -> str: ...


@dataclass(frozen=True, slots=True)
class SentEmail:
    """One row of the record: an e-mail sent, or an event skipped and why."""

    event_id: UUID
    event_type: str
    order_id: str
    customer_sub: str | None
    to: str | None
    subject: str
    text: str
    status: str  # "sent" or "skipped"
    skip_reason: str | None
    message_id: str | None
    created_at: datetime
    sent_at: datetime | None


class Ledger(abc.ABC):
    """The record inside one consumer transaction: contacts learned and e-mails sent or skipped."""

    @abc.abstractmethod
    async def contact(self, order_id: str) -> Contact | None: ...

    @abc.abstractmethod
    async def remember(self, contact: Contact) -> None: ...

    @abc.abstractmethod
    async def record(self, notice: Notice, email: Email | None) -> None:
        """Write the e-mail (status "sending") or the skip, before anything is sent."""

    @abc.abstractmethod
    async def mark_sent(self, event_id: UUID, message_id: str) -> None: ...


class SentEmails(abc.ABC):
    """Reads the record (the API and the CLI)."""

    @abc.abstractmethod
    async def of_customer(self, sub: str, limit: int) -> list[SentEmail]:
        """The customer's sent e-mails, newest first."""

    @abc.abstractmethod
    async def latest(self, limit: int, order_id: str | None = None, status: str | None = None) -> list[SentEmail]:
        """Every recorded event, newest first, optionally of one order or status."""

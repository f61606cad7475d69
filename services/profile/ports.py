"""What the profile service needs from the outside world: an identity provider and a profile store."""

from __future__ import annotations

import abc
from uuid import UUID

from services.profile.domain import Address, AddressFields, Profile, ProfileFields, SignUp, Tokens


class IdentityProvider(abc.ABC):
    """Sign-up and sign-in (Cognito in AWS and locally). Failures raise ``domain.AuthError`` subclasses."""

    auto_confirm: bool = False  # sign-ups are confirmed at once (locally: the emulator sends no e-mail)

    @abc.abstractmethod
    async def sign_up(self, email: str, password: str) -> SignUp: ...

    @abc.abstractmethod
    async def confirm(self, email: str, code: str) -> None: ...

    @abc.abstractmethod
    async def sign_in(self, email: str, password: str) -> Tokens: ...

    @abc.abstractmethod
    async def refresh(self, refresh_token: str) -> Tokens: ...

    @abc.abstractmethod
    async def sign_out(self, access_token: str) -> None:
        """Revoke every token of the user the access token belongs to (on every device)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients; nothing by default."""


class ProfileRepository(abc.ABC):
    """Profiles and address books, keyed by the Cognito ``sub``; every call sees only that user's rows."""

    @abc.abstractmethod
    async def profile(self, sub: str, email: str) -> Profile:
        """The user's profile, created (empty) on first access."""

    @abc.abstractmethod
    async def find(self, sub: str) -> Profile | None:
        """The user's profile if one exists (never creates one)."""

    @abc.abstractmethod
    async def update_profile(self, sub: str, email: str, fields: ProfileFields) -> Profile: ...

    @abc.abstractmethod
    async def addresses(self, sub: str) -> list[Address]:
        """The user's addresses, oldest first."""

    @abc.abstractmethod
    async def address(self, sub: str, address_id: UUID) -> Address | None: ...

    @abc.abstractmethod
    async def add_address(self, sub: str, email: str, fields: AddressFields, limit: int) -> Address:
        """Add an address; ``AddressBookFull`` if the user already has ``limit``. The first becomes the default."""

    @abc.abstractmethod
    async def replace_address(self, sub: str, address_id: UUID, fields: AddressFields) -> Address | None: ...

    @abc.abstractmethod
    async def delete_address(self, sub: str, address_id: UUID) -> bool: ...

"""The profile service's use cases: what each route asks of the identity provider and the profile store."""

from __future__ import annotations

import logging
from uuid import UUID

from services.profile.domain import (
    AccountExists,
    Address,
    AddressFields,
    NoProfile,
    NoSuchAddress,
    Profile,
    ProfileFields,
    SignUp,
    Tokens,
    mask_email,
)
from services.profile.ports import IdentityProvider, ProfileRepository

log = logging.getLogger("services.profile")


class Accounts:
    """Sign-up and sign-in through the identity provider. E-mail addresses are compared lower-case."""

    def __init__(self, identity: IdentityProvider, profiles: ProfileRepository):
        self.identity = identity
        self.profiles = profiles

    async def sign_up(self, email: str, password: str) -> SignUp:
        """The same answer whether or not the address has an account: what happens next goes by e-mail.

        Cognito's advice against user enumeration: a sign-up with a registered address is not an error the
        caller sees (sign-in already answers a wrong password and an unknown user alike).
        """
        email = email.lower()
        try:
            result = await self.identity.sign_up(email, password)
        except AccountExists:
            log.info("sign-up with an address that has an account; answered as any other")
            return SignUp("", confirmed=self.identity.auto_confirm, code_sent_to=mask_email(email))
        result = SignUp(result.sub, result.confirmed, mask_email(email) if not result.confirmed else "")
        # Keep the e-mail address now: access tokens carry none, so the gateway cannot pass it on later.
        try:
            await self.profiles.profile(result.sub, email)
        except Exception:  # the account exists: the profile is made on first visit instead
            log.warning("profile not created at sign-up", exc_info=True)
        return result

    async def confirm(self, email: str, code: str) -> None:
        await self.identity.confirm(email.lower(), code)

    async def sign_in(self, email: str, password: str) -> Tokens:
        return await self.identity.sign_in(email.lower(), password)

    async def refresh(self, refresh_token: str) -> Tokens:
        return await self.identity.refresh(refresh_token)

    async def sign_out(self, access_token: str) -> None:
        await self.identity.sign_out(access_token)


class Profiles:
    """A user's own profile and address book; every call names the user, and sees only their rows."""

    def __init__(self, profiles: ProfileRepository, max_addresses: int):
        self.profiles = profiles
        self.max_addresses = max_addresses

    async def profile(self, sub: str, email: str) -> Profile:
        return await self.profiles.profile(sub, email)

    async def update_profile(self, sub: str, email: str, fields: ProfileFields) -> Profile:
        return await self.profiles.update_profile(sub, email, fields.checked())

    async def addresses(self, sub: str) -> list[Address]:
        return await self.profiles.addresses(sub)

    async def address(self, sub: str, address_id: UUID) -> Address:
        return _found(await self.profiles.address(sub, address_id), address_id)

    async def add_address(self, sub: str, email: str, fields: AddressFields) -> Address:
        return await self.profiles.add_address(sub, email, fields.checked(), self.max_addresses)

    async def replace_address(self, sub: str, address_id: UUID, fields: AddressFields) -> Address:
        checked = fields.checked()
        return _found(await self.profiles.replace_address(sub, address_id, checked), address_id)

    async def delete_address(self, sub: str, address_id: UUID) -> None:
        if not await self.profiles.delete_address(sub, address_id):
            raise NoSuchAddress(address_id)

    async def of_user(self, sub: str) -> Profile:
        """A user's profile for another service (checkout needs the e-mail address); never creates one."""
        profile = await self.profiles.find(sub)
        if profile is None:
            raise NoProfile(sub)
        return profile


def _found(address: Address | None, address_id: UUID) -> Address:
    if address is None:
        raise NoSuchAddress(address_id)
    return address

"""The JSON shapes of the profile API. Types and presence are checked here; the rules live in domain.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictBool

from reference.resources import USER_POOL
from services.common.types import NO_CONTROL, Documented, name, text
from services.profile.domain import Address, AddressFields, Profile, ProfileFields, SignUp, Tokens

# A hard cap before the domain's own limits: nobody's street name is a kilobyte long.
# Control characters are the domain's rule (reported with every other field's at once); the schema says so.
Text = Annotated[str, Field(max_length=1000), Documented(NO_CONTROL)]
PersonName = name(min_length=0, max_length=1000)  # required-ness is the domain's rule
Password = text(min_length=1, max_length=256)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- auth


class Credentials(Body):
    email: EmailStr = Field(max_length=254)
    password: Password


NewPassword = Annotated[
    text(min_length=USER_POOL.password_min_length, max_length=256),
    Field(
        description=(
            f"the user pool's policy: at least {USER_POOL.password_min_length} characters, with an upper-case "
            "letter, a lower-case letter and a digit (Cognito checks the rest: 422 weak_password)"
        )
    ),
]


class NewAccount(Body):
    email: EmailStr = Field(max_length=254)
    password: NewPassword


class Confirmation(Body):
    email: EmailStr = Field(max_length=254)
    code: str = Field(pattern=r"^\d{6}$", description="the six-digit code Cognito e-mailed")


class RefreshRequest(Body):
    refresh_token: str = Field(min_length=1, max_length=8192)


class SignUpOut(BaseModel):
    """The one answer to every well-formed sign-up, new address or registered: it reveals neither."""

    confirmed: bool = Field(description="true where sign-ups are confirmed at once (locally); else a code was e-mailed")
    code_sent_to: str = Field("", description="the masked address a confirmation code goes to")
    detail: str

    @classmethod
    def of(cls, result: SignUp) -> SignUpOut:
        if result.confirmed:
            detail = "sign in with this address and password (an address that already had an account keeps its own)"
        else:
            detail = (
                f"check the mail to {result.code_sent_to}: a new account gets a confirmation code "
                "(POST /auth/confirm); an address that already has an account signs in, or resets its password"
            )
        return cls(confirmed=result.confirmed, code_sent_to=result.code_sent_to, detail=detail)


class TokensOut(BaseModel):
    access_token: str
    id_token: str
    refresh_token: str | None = None
    expires_in: int
    token_type: str

    @classmethod
    def of(cls, tokens: Tokens) -> TokensOut:
        return cls(
            access_token=tokens.access_token,
            id_token=tokens.id_token,
            refresh_token=tokens.refresh_token,
            expires_in=tokens.expires_in,
            token_type=tokens.token_type,
        )


# --------------------------------------------------------------------------- profile


class ProfileIn(Body):
    display_name: PersonName = ""
    phone: Text = Field("", description="E.164, e.g. +14155550100")
    marketing_opt_in: StrictBool = False

    def fields(self) -> ProfileFields:
        return ProfileFields(self.display_name, self.phone, self.marketing_opt_in)


class ProfileOut(BaseModel):
    sub: str
    email: str
    display_name: str
    phone: str
    marketing_opt_in: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, profile: Profile) -> ProfileOut:
        f = profile.fields
        return cls(
            sub=profile.sub,
            email=profile.email,
            display_name=f.display_name,
            phone=f.phone,
            marketing_opt_in=f.marketing_opt_in,
            created_at=profile.created_at,
            updated_at=profile.updated_at,
        )


# --------------------------------------------------------------------------- addresses


class AddressIn(Body):
    full_name: PersonName
    line1: Text
    line2: Text = ""
    city: Text
    region: Text = ""
    postal_code: Text = ""
    country: Text = Field(description="ISO 3166-1 alpha-2, e.g. US")
    phone: Text = ""
    label: Text = Field("", description="e.g. Home, Work")
    is_default: StrictBool = False

    def fields(self) -> AddressFields:
        return AddressFields(**self.model_dump())


class AddressOut(BaseModel):
    id: UUID
    label: str
    full_name: str
    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str
    phone: str
    is_default: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, address: Address) -> AddressOut:
        f = address.fields
        return cls(
            id=address.id,
            created_at=address.created_at,
            updated_at=address.updated_at,
            **{name: getattr(f, name) for name in AddressFields.__dataclass_fields__},
        )


class AddressList(BaseModel):
    items: list[AddressOut]
    limit: int

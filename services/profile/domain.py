"""The profile service's model and rules: plain data, no FastAPI, no boto3, no SQL.

Each refusal is a ``services.common.errors`` class: its HTTP status, title and ``code`` are class
attributes, so the one problem handler answers it (the table in README.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from services.common import errors

# ISO 3166-1 alpha-2, the officially assigned codes (249, as in tzdata's iso3166.tab).
COUNTRIES = frozenset(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY
    BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO
    FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM
    JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE
    RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT
    TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW""".split()  # noqa: SIM905 - a table reads better than 249 quoted strings
)

# Longest accepted value of each text field, in characters.
MAX_LENGTH = {
    "display_name": 80,
    "label": 40,
    "full_name": 100,
    "line1": 100,
    "line2": 100,
    "city": 60,
    "region": 60,
    "postal_code": 10,
    "phone": 16,
}
REQUIRED_ADDRESS_FIELDS = ("full_name", "line1", "city", "country")

# Postal codes of the most common destinations; any other country takes 3-10 letters, digits, spaces or hyphens.
POSTAL_CODE_FORMATS = {
    "US": (r"\d{5}(-\d{4})?", "5 digits, or ZIP+4 (12345-6789)"),
    "DE": (r"\d{5}", "5 digits"),
    "FR": (r"\d{5}", "5 digits"),
    "ES": (r"\d{5}", "5 digits"),
    "IT": (r"\d{5}", "5 digits"),
    "NL": (r"\d{4} ?[A-Z]{2}", "4 digits and 2 letters (1234 AB)"),
    "GB": (r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}", "a UK postcode (SW1A 1AA)"),
    "CA": (r"[A-Z]\d[A-Z] ?\d[A-Z]\d", "a Canadian postal code (K1A 0B1)"),
    "JP": (r"\d{3}-?\d{4}", "7 digits (100-0001)"),
}
GENERIC_POSTAL_CODE = (r"[A-Z0-9][A-Z0-9 -]{1,8}[A-Z0-9]", "3 to 10 letters, digits, spaces or hyphens")
NO_POSTAL_CODE = frozenset({"AE", "HK", "QA"})  # countries without postal codes: may be left empty
PHONE = re.compile(r"\+[1-9]\d{6,14}")  # E.164
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class Invalid(errors.Invalid):
    """One or more fields break a rule; each error names its field (``errors`` in the problem)."""

    title = "Invalid request"

    def __init__(self, field_errors: list[FieldError]):
        found = [{"field": e.field, "in": "body", "message": e.message} for e in field_errors]
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in field_errors), errors=found)
        self.errors = tuple(field_errors)


class AddressBookFull(errors.Conflict):
    def __init__(self, limit: int):
        super().__init__(
            f"an address book holds at most {limit} addresses; delete one first", code="address_book_full", limit=limit
        )
        self.limit = limit


class NoSuchAddress(errors.NotFound):
    """Someone else's address id is "not found" too: the answer must not tell that it exists."""

    def __init__(self, address_id: UUID):
        super().__init__(f"you have no address {address_id}")


class NoProfile(errors.NotFound):
    def __init__(self, sub: str):
        super().__init__(f"no profile for {sub}", field="sub")


# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True, slots=True)
class ProfileFields:
    """What the user may change in their profile."""

    display_name: str = ""
    phone: str = ""
    marketing_opt_in: bool = False

    def checked(self) -> ProfileFields:
        """These fields, trimmed, or ``Invalid`` naming each bad one."""
        clean = replace(self, display_name=self.display_name.strip(), phone=self.phone.strip())
        errors = _text_errors(clean, ("display_name", "phone"))
        if clean.phone and not PHONE.fullmatch(clean.phone):
            errors.append(FieldError("phone", "must be in E.164 form, e.g. +14155550100"))
        if errors:
            raise Invalid(errors)
        return clean


@dataclass(frozen=True, slots=True)
class Profile:
    """A user's profile, keyed by the Cognito ``sub``."""

    sub: str
    email: str
    fields: ProfileFields
    created_at: datetime
    updated_at: datetime


# --------------------------------------------------------------------------- addresses


@dataclass(frozen=True, slots=True)
class AddressFields:
    """One entry of the address book, as the user writes it."""

    full_name: str
    line1: str
    city: str
    country: str
    postal_code: str = ""
    line2: str = ""
    region: str = ""
    phone: str = ""
    label: str = ""
    is_default: bool = False

    def checked(self) -> AddressFields:
        """These fields normalised (trimmed; country and postal code upper-case), or ``Invalid``."""
        text = {name: str(getattr(self, name)).strip() for name in (*MAX_LENGTH, "country") if hasattr(self, name)}
        text["country"] = text["country"].upper()
        text["postal_code"] = text["postal_code"].upper()
        clean = replace(self, **text)
        errors = _text_errors(clean, tuple(name for name in MAX_LENGTH if hasattr(clean, name)))
        errors += [FieldError(name, "is required") for name in REQUIRED_ADDRESS_FIELDS if not getattr(clean, name)]
        if clean.country and clean.country not in COUNTRIES:
            errors.append(FieldError("country", "must be an ISO 3166-1 alpha-2 country code, e.g. US or DE"))
        elif clean.country:
            errors += _postal_code_errors(clean.country, clean.postal_code)
        if clean.phone and not PHONE.fullmatch(clean.phone):
            errors.append(FieldError("phone", "must be in E.164 form, e.g. +14155550100"))
        if errors:
            raise Invalid(_first_per_field(errors))
        return clean


@dataclass(frozen=True, slots=True)
class Address:
    id: UUID
    fields: AddressFields
    created_at: datetime
    updated_at: datetime


def _postal_code_errors(country: str, code: str) -> list[FieldError]:
    if not code:
        return [] if country in NO_POSTAL_CODE else [FieldError("postal_code", f"is required in {country}")]
    pattern, shape = POSTAL_CODE_FORMATS.get(country, GENERIC_POSTAL_CODE)
    if not re.fullmatch(pattern, code):
        return [FieldError("postal_code", f"must be {shape} in {country}")]
    return []


def _text_errors(obj: object, names: tuple[str, ...]) -> list[FieldError]:
    errors = []
    for name in names:
        value = getattr(obj, name)
        if len(value) > MAX_LENGTH[name]:
            errors.append(FieldError(name, f"must be at most {MAX_LENGTH[name]} characters"))
        elif CONTROL.search(value):
            errors.append(FieldError(name, "must not contain control characters"))
    return errors


def _first_per_field(errors: list[FieldError]) -> list[FieldError]:
    seen: dict[str, FieldError] = {}
    for error in errors:
        seen.setdefault(error.field, error)
    return list(seen.values())


# --------------------------------------------------------------------------- identity


def mask_email(email: str) -> str:
    """The address a code went to, as Cognito shows it (``a***@e***``): the same for every sign-up answer."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain[:1]}***"


@dataclass(frozen=True, slots=True)
class SignUp:
    """What a sign-up produced: the new user's ``sub``, and whether they still have to confirm."""

    sub: str
    confirmed: bool
    code_sent_to: str = ""  # the masked address the confirmation code went to


@dataclass(frozen=True, slots=True)
class Tokens:
    """Cognito's tokens after a sign-in or refresh (a refresh returns no new refresh token)."""

    access_token: str
    id_token: str
    expires_in: int
    refresh_token: str | None = None
    token_type: str = "Bearer"  # noqa: S105 - a scheme name, not a secret


class AuthError(errors.DomainError):
    """The identity provider refused; each subclass is one reason, with its HTTP answer and ``code``."""

    code: ClassVar[str] = ""
    retry_after: ClassVar[str | None] = None

    def __init__(self, detail: str, **extensions: Any):
        if self.retry_after:
            extensions["headers"] = {"Retry-After": self.retry_after}
        super().__init__(detail, code=self.code, **extensions)


class AccountExists(AuthError, errors.Conflict):
    code = "account_exists"

    def __init__(self, detail: str):
        super().__init__(detail, field="email")


class WeakPassword(AuthError, errors.Invalid):
    code = "weak_password"

    def __init__(self, policy: str):
        found = [{"field": "password", "in": "body", "message": f"must be {policy}"}]
        super().__init__(f"password: must be {policy}", errors=found)
        self.policy = policy


class BadCredentials(AuthError, errors.Unauthorized):
    """Wrong password, unknown user, or an invalid, expired or revoked token."""

    code = "not_authorized"


class NotConfirmed(AuthError, errors.Forbidden):
    code = "not_confirmed"
    title = "Account not confirmed"


class BadCode(AuthError, errors.Invalid):
    """A confirmation code that does not match or has expired."""

    code = "code_mismatch"

    def __init__(self, detail: str):
        super().__init__(f"code: {detail}", errors=[{"field": "code", "in": "body", "message": detail}])


class AlreadyConfirmed(AuthError, errors.Conflict):
    code = "already_confirmed"


class ChallengeRequired(AuthError, errors.Conflict):
    """Sign-in needs another step first (a new password, MFA), which this API does not offer."""

    code = "challenge_required"

    def __init__(self, challenge: str):
        super().__init__(
            f"sign-in needs the {challenge} step first, which this API does not offer", challenge=challenge
        )
        self.challenge = challenge


class ProviderUnavailable(AuthError, errors.Unavailable):
    """The identity provider did not answer."""

    code = "identity_unavailable"
    retry_after = "5"


class Throttled(AuthError, errors.TooManyRequests):
    code = "throttled"
    retry_after = "5"

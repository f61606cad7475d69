"""The profile service's model and rules: plain data, no FastAPI, no boto3, no SQL."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

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


class DomainError(Exception):
    """A rule of the profile service said no."""


class Invalid(DomainError):
    """One or more fields break a rule; each error names its field."""

    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = tuple(errors)


class AddressBookFull(DomainError):
    def __init__(self, limit: int):
        super().__init__(f"an address book holds at most {limit} addresses; delete one first")
        self.limit = limit


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


class AuthError(DomainError):
    """The identity provider refused; each subclass is one reason the API reports differently."""


class AccountExists(AuthError):
    pass


class WeakPassword(AuthError):
    def __init__(self, policy: str):
        super().__init__(f"the password does not meet the policy: {policy}")
        self.policy = policy


class BadCredentials(AuthError):
    """Wrong password, unknown user, or an invalid, expired or revoked token."""


class NotConfirmed(AuthError):
    pass


class BadCode(AuthError):
    """A confirmation code that does not match or has expired."""


class AlreadyConfirmed(AuthError):
    pass


class ChallengeRequired(AuthError):
    """Sign-in needs another step first (a new password, MFA), which this API does not offer."""

    def __init__(self, challenge: str):
        super().__init__(f"sign-in needs the {challenge} step first, which this API does not offer")
        self.challenge = challenge


class ProviderUnavailable(AuthError):
    """The identity provider did not answer."""


class Throttled(AuthError):
    pass

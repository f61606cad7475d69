"""The profile service's pure rules: address and profile validation, and how each Cognito refusal is answered."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from services.common.problems import from_error
from services.profile import domain
from services.profile.adapters.cognito import CognitoIdentity, describe_policy

ADDRESS = domain.AddressFields("Ada Lovelace", "1 Main St", "Springfield", "us", " 62701 ")


def test_an_address_is_normalised_before_it_is_stored() -> None:
    clean = ADDRESS.checked()
    assert (clean.country, clean.postal_code) == ("US", "62701")


@pytest.mark.parametrize(
    ("country", "postal_code", "ok"),
    [
        ("US", "62701-1234", True),
        ("US", "6270", False),
        ("GB", "SW1A 1AA", True),
        ("GB", "12345", False),
        ("DE", "10115", True),
        ("NL", "1234 AB", True),
        ("CA", "K1A 0B1", True),
        ("JP", "100-0001", True),
        ("BR", "01310-100", True),  # no format of its own: 3 to 10 letters, digits, spaces or hyphens
        ("BR", "1", False),
        ("HK", "", True),  # no postal codes there
        ("FR", "", False),
    ],
)
def test_postal_codes_follow_their_countrys_format(country: str, postal_code: str, ok: bool) -> None:
    address = domain.AddressFields("A", "1 Main St", "Town", country, postal_code)
    if ok:
        assert address.checked().postal_code == postal_code
    else:
        with pytest.raises(domain.Invalid) as refused:
            address.checked()
        assert [e.field for e in refused.value.errors] == ["postal_code"]


def test_an_unknown_country_is_named_once_and_its_postal_code_is_not_judged() -> None:
    with pytest.raises(domain.Invalid) as refused:
        domain.AddressFields("A", "1 Main St", "Town", "UK", "nonsense!").checked()
    assert [e.field for e in refused.value.errors] == ["country"]


def test_blank_required_fields_and_control_characters_are_refused() -> None:
    with pytest.raises(domain.Invalid) as refused:
        domain.AddressFields("   ", "1 Main St\x00", "Town", "US", "62701").checked()
    assert {e.field for e in refused.value.errors} == {"full_name", "line1"}


def test_a_profile_phone_must_be_e164() -> None:
    assert domain.ProfileFields(phone=" +14155550100 ").checked().phone == "+14155550100"
    with pytest.raises(domain.Invalid):
        domain.ProfileFields(phone="415 555 0100").checked()


def test_the_password_policy_reads_as_a_sentence() -> None:
    policy = {"MinimumLength": 10, "RequireUppercase": True, "RequireLowercase": True, "RequireNumbers": True}
    assert describe_policy(policy) == "at least 10 characters, with an upper-case letter, a lower-case letter, a digit"


# Each Cognito error code (as boto3 raises it) -> the HTTP status the client sees. The emulator
# produces most of these in the other tests; CodeMismatch and the throttling codes it never raises.
@pytest.mark.parametrize(
    ("code", "action", "status"),
    [
        ("UsernameExistsException", "sign-up", 409),
        ("InvalidPasswordException", "sign-up", 422),
        ("NotAuthorizedException", "sign-in", 401),
        ("UserNotFoundException", "sign-in", 401),
        ("UserNotConfirmedException", "sign-in", 403),
        ("CodeMismatchException", "confirm", 422),
        ("ExpiredCodeException", "confirm", 422),
        ("UserNotFoundException", "confirm", 422),
        ("TooManyRequestsException", "sign-in", 429),
        ("LimitExceededException", "sign-up", 429),
        ("TooManyFailedAttemptsException", "confirm", 429),
        ("NotAuthorizedException", "refresh", 401),
    ],
)
def test_each_cognito_refusal_has_its_answer(code: str, action: str, status: int) -> None:
    identity = CognitoIdentity.__new__(CognitoIdentity)
    identity._policy = "at least 10 characters"
    error = ClientError({"Error": {"Code": code, "Message": "refused"}}, "Op")
    with pytest.raises(domain.AuthError) as raised:
        identity._translate(error, action)
    assert from_error(raised.value).status_code == status


def test_an_unexpected_cognito_error_is_not_disguised_as_a_client_error() -> None:
    identity = CognitoIdentity.__new__(CognitoIdentity)
    error = ClientError({"Error": {"Code": "InternalErrorException", "Message": "boom"}}, "Op")
    with pytest.raises(ClientError):
        identity._translate(error, "sign-in")


def test_a_refusal_answers_with_its_code_the_field_at_fault_and_when_to_retry() -> None:
    weak = from_error(domain.WeakPassword("at least 10 characters"))
    body = json.loads(weak.body)
    assert (body["code"], body["errors"][0]["field"], body["detail"]) == (
        "weak_password", "password", "password: must be at least 10 characters"
    )  # fmt: skip
    assert json.loads(from_error(domain.AccountExists("taken")).body)["field"] == "email"
    throttled = from_error(domain.Throttled("slow down"))
    assert (throttled.status_code, throttled.headers["retry-after"]) == (429, "5")
    full = json.loads(from_error(domain.AddressBookFull(3)).body)
    assert (full["status"], full["code"], full["limit"]) == (409, "address_book_full", 3)
    invalid = json.loads(from_error(domain.Invalid([domain.FieldError("phone", "bad")])).body)
    assert (invalid["title"], invalid["errors"]) == (
        "Invalid request",
        [{"field": "phone", "in": "body", "message": "bad"}],
    )

"""The IdentityProvider port on Amazon Cognito user pools (boto3 ``cognito-idp``; moto locally).

Cognito's error codes become the domain's ``AuthError`` subclasses here, so the API maps
reasons, not AWS names. boto3 is blocking: each call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from services.profile import domain
from services.profile.ports import IdentityProvider

T = TypeVar("T")

THROTTLED = {"TooManyRequestsException", "LimitExceededException", "TooManyFailedAttemptsException"}
WRONG_LOGIN = "wrong e-mail address or password"


class CognitoIdentity(IdentityProvider):
    def __init__(self, user_pool_id: str, client_id: str, region: str, *, auto_confirm: bool = False):
        self.pool = user_pool_id
        self.client_id = client_id
        self.auto_confirm = auto_confirm
        self.idp = boto3.client("cognito-idp", region_name=region)
        self._policy = ""

    async def sign_up(self, email: str, password: str) -> domain.SignUp:
        def call() -> domain.SignUp:
            out = self.idp.sign_up(
                ClientId=self.client_id,
                Username=email,
                Password=password,
                UserAttributes=[{"Name": "email", "Value": email}],
            )
            if self.auto_confirm and not out.get("UserConfirmed"):
                self.idp.admin_confirm_sign_up(UserPoolId=self.pool, Username=email)
                return domain.SignUp(out["UserSub"], confirmed=True)
            sent_to = out.get("CodeDeliveryDetails", {}).get("Destination", "")
            return domain.SignUp(out["UserSub"], confirmed=bool(out.get("UserConfirmed")), code_sent_to=sent_to)

        return await self._run(call, "sign-up")

    async def confirm(self, email: str, code: str) -> None:
        await self._run(
            lambda: self.idp.confirm_sign_up(ClientId=self.client_id, Username=email, ConfirmationCode=code), "confirm"
        )

    async def sign_in(self, email: str, password: str) -> domain.Tokens:
        def call() -> domain.Tokens:
            out = self.idp.initiate_auth(
                ClientId=self.client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": email, "PASSWORD": password},
            )
            if "AuthenticationResult" not in out:
                raise domain.ChallengeRequired(out.get("ChallengeName", "unknown"))
            return _tokens(out["AuthenticationResult"])

        return await self._run(call, "sign-in")

    async def refresh(self, refresh_token: str) -> domain.Tokens:
        def call() -> domain.Tokens:
            out = self.idp.initiate_auth(
                ClientId=self.client_id,
                AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": refresh_token},
            )
            return _tokens(out["AuthenticationResult"])

        return await self._run(call, "refresh")

    async def sign_out(self, access_token: str) -> None:
        await self._run(lambda: self.idp.global_sign_out(AccessToken=access_token), "sign-out")

    def close(self) -> None:
        self.idp.close()

    async def _run(self, call: Callable[[], T], action: str) -> T:
        try:
            return await asyncio.to_thread(call)
        except ClientError as exc:
            self._translate(exc, action)
        except (BotoConnectionError, BotoCoreError) as exc:
            raise domain.ProviderUnavailable(f"Cognito did not answer ({type(exc).__name__})") from exc

    def _translate(self, exc: ClientError, action: str) -> NoReturn:
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "")
        error: domain.AuthError | domain.Invalid
        if code in ("UsernameExistsException", "AliasExistsException"):
            error = domain.AccountExists("an account with this e-mail address already exists")
        elif code == "InvalidPasswordException":
            error = domain.WeakPassword(self.password_policy())
        elif code == "UserNotConfirmedException":
            error = domain.NotConfirmed("confirm the e-mail address first (POST /api/auth/confirm with the code)")
        elif code in ("CodeMismatchException", "ExpiredCodeException") or (
            code == "UserNotFoundException" and action == "confirm"  # the same answer as a wrong code: no leak
        ):
            error = domain.BadCode("the confirmation code is wrong or has expired")
        elif code == "NotAuthorizedException" and action == "confirm" and "CONFIRMED" in message.upper():
            error = domain.AlreadyConfirmed("this account is already confirmed: sign in")
        elif code in ("NotAuthorizedException", "UserNotFoundException"):
            error = domain.BadCredentials(_bad_credentials(action))
        elif code in THROTTLED:
            error = domain.Throttled("too many attempts: wait a little and try again")
        elif code == "InvalidParameterException":
            error = domain.Invalid([domain.FieldError("body", message or "a parameter is invalid")])
        else:
            raise exc
        raise error from exc

    def password_policy(self) -> str:
        """The pool's password policy in words (read once from Cognito)."""
        if not self._policy:
            try:
                pool = self.idp.describe_user_pool(UserPoolId=self.pool)["UserPool"]
                self._policy = describe_policy(pool.get("Policies", {}).get("PasswordPolicy", {}))
            except (ClientError, BotoCoreError):
                return "see the user pool's password policy"
        return self._policy


def describe_policy(policy: dict[str, Any]) -> str:
    """``{"MinimumLength": 10, "RequireUppercase": True, ...}`` as a sentence."""
    needs = [
        what
        for key, what in (
            ("RequireUppercase", "an upper-case letter"),
            ("RequireLowercase", "a lower-case letter"),
            ("RequireNumbers", "a digit"),
            ("RequireSymbols", "a symbol"),
        )
        if policy.get(key)
    ]
    sentence = f"at least {policy.get('MinimumLength', 8)} characters"
    return sentence + (f", with {', '.join(needs)}" if needs else "")


def _tokens(result: dict[str, Any]) -> domain.Tokens:
    return domain.Tokens(
        access_token=result["AccessToken"],
        id_token=result["IdToken"],
        expires_in=int(result["ExpiresIn"]),
        refresh_token=result.get("RefreshToken"),
        token_type=result.get("TokenType", "Bearer"),
    )


def _bad_credentials(action: str) -> str:
    if action == "sign-in":
        return WRONG_LOGIN
    if action == "refresh":
        return "the refresh token is invalid, expired or revoked: sign in again"
    return "the access token is invalid, expired or revoked"

"""Sign-out at the user pool: ``RevokeToken`` for the session's refresh token (the app client is public).

RevokeToken revokes one refresh token and the access tokens issued from it, and nothing else: the user's other
devices stay signed in. The AWS emulator (moto 5.2) does not implement it (its server answers a bare 500 that is
not an AWS error); there the gateway falls back, once noticed, to ``GlobalSignOut`` with the session's access
token, the nearest call the emulator has (it revokes every refresh token of the user). Against AWS the fallback
never triggers: Cognito's own errors carry an AWS error code.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from botocore.exceptions import ClientError

from services.gateway.ports import TokenRevoker

log = logging.getLogger(__name__)


class CognitoRevoker(TokenRevoker):
    def __init__(self, idp: Any, client_id: str):
        self.idp = idp
        self.client_id = client_id
        self.revoke_token_missing = False

    async def revoke(self, refresh_token: str, access_token: str) -> str:
        if not self.revoke_token_missing:
            try:
                await asyncio.to_thread(self.idp.revoke_token, Token=refresh_token, ClientId=self.client_id)
                return "RevokeToken"
            except ClientError as exc:
                if not _not_implemented(exc):
                    raise
                self.revoke_token_missing = True
                log.warning(
                    "the identity provider does not implement RevokeToken (the emulator): GlobalSignOut instead"
                )
        await asyncio.to_thread(self.idp.global_sign_out, AccessToken=access_token)
        return "GlobalSignOut"


def _not_implemented(exc: ClientError) -> bool:
    """A 500 without an AWS error code: an emulator's missing action, never one of Cognito's own errors."""
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status in (500, 501) and str(error.get("Code", "")) in ("500", "501", "NotImplemented", "")

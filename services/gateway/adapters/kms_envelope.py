"""Sessions sealed at rest with envelope encryption: AES-256-GCM under a data key that the stage's KMS key wraps.

KMS is asked for a new data key (``GenerateDataKey``) once per process and then once per rotation period, never
per request; the plaintext data key stays in this process's memory only. Each sealed record carries the wrapped
data key, so any replica of the gateway opens it with one ``Decrypt`` per data key (cached here by its id), and a
record outlives the process that wrote it. The encryption context names the purpose and stage: a wrapped key
taken to another use of the same KMS key does not decrypt. The record's associated data is its Redis key, so a
sealed session moved under another session's key does not open either.

Record: ``v1.<key id>.<wrapped key, base64url>.<nonce + ciphertext, base64url>``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.gateway.ports import Sealer, SessionsUnavailable

VERSION = b"v1"
MAX_CACHED_KEYS = 64


class KmsEnvelope(Sealer):
    def __init__(self, kms: Any, key_id: str, context: dict[str, str], *, rotate_s: float = 86400.0):
        self.kms = kms
        self.key_id = key_id
        self.context = context
        self.rotate_s = rotate_s
        self.kms_calls = 0  # GenerateDataKey and Decrypt calls of this process (the tests hold it to a bound)
        self._current: tuple[bytes, bytes, bytes, float] | None = None  # (id, wrapped, plaintext key, made at)
        self._opened: dict[bytes, bytes] = {}  # data key id -> plaintext data key
        self._lock = asyncio.Lock()

    async def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        kid, wrapped, key = await self._data_key()
        nonce = os.urandom(12)
        body = nonce + AESGCM(key).encrypt(nonce, plaintext, aad)
        return b".".join((VERSION, kid, _b64(wrapped), _b64(body)))

    async def open(self, sealed: bytes, aad: bytes) -> bytes:
        try:
            version, kid, wrapped, body = sealed.split(b".")
            if version != VERSION:
                raise ValueError(f"unknown record version {version!r}")
            key = self._opened.get(kid) or await self._unwrap(kid, _unb64(wrapped))
            raw = _unb64(body)
            return AESGCM(key).decrypt(raw[:12], raw[12:], aad)
        except InvalidTag as exc:
            raise ValueError("the sealed session does not verify") from exc

    async def check(self) -> None:
        """Raise unless a data key can be had (a new one is made at most once per rotation period)."""
        await self._data_key()

    async def _data_key(self) -> tuple[bytes, bytes, bytes]:
        current = self._current
        if current is None or time.monotonic() - current[3] > self.rotate_s:
            async with self._lock:
                current = self._current
                if current is None or time.monotonic() - current[3] > self.rotate_s:
                    out = await self._call(
                        self.kms.generate_data_key, KeyId=self.key_id, KeySpec="AES_256", EncryptionContext=self.context
                    )
                    wrapped, key = out["CiphertextBlob"], out["Plaintext"]
                    kid = hashlib.sha256(wrapped).hexdigest()[:16].encode()
                    self._remember(kid, key)
                    self._current = current = (kid, wrapped, key, time.monotonic())
        return current[0], current[1], current[2]

    async def _unwrap(self, kid: bytes, wrapped: bytes) -> bytes:
        if hashlib.sha256(wrapped).hexdigest()[:16].encode() != kid:
            raise ValueError("the wrapped data key does not match its id")
        try:
            out = await self._call(self.kms.decrypt, CiphertextBlob=wrapped, EncryptionContext=self.context)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidCiphertextException":
                raise ValueError("the data key was not wrapped for gateway sessions of this stage") from exc
            raise
        self._remember(kid, out["Plaintext"])
        return out["Plaintext"]

    async def _call(self, method: Any, **kwargs: Any) -> Any:
        self.kms_calls += 1
        try:
            return await asyncio.to_thread(method, **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidCiphertextException":
                raise
            raise SessionsUnavailable(f"KMS refused: {exc}") from exc
        except BotoCoreError as exc:
            raise SessionsUnavailable(f"KMS cannot be reached: {exc}") from exc

    def _remember(self, kid: bytes, key: bytes) -> None:
        if len(self._opened) >= MAX_CACHED_KEYS:
            self._opened.pop(next(iter(self._opened)))
        self._opened[kid] = key


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _unb64(data: bytes) -> bytes:
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))

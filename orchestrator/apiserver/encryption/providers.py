"""Providers: how one stored value is sealed and opened, in Kubernetes' byte layouts.

A stored value of an encrypting provider is ``k8s:enc:<type>:v1:<key name>:``
followed by the provider's own bytes:

- ``aesgcm``: a 12-byte random nonce, then AES-GCM ciphertext with its 16-byte
  tag; the additional authenticated data is the storage key, so a value copied
  to another key does not open there.
- ``aescbc``: a 16-byte random IV, then AES-CBC ciphertext of the PKCS#7-padded
  value (no authentication: Kubernetes keeps it for old configurations).
- ``identity``: the value itself, no prefix.

A ``Chain`` is one rule's provider list, expanded to one entry per key in
order: the first writes, and a read picks the entry whose prefix the value
starts with. A value of an encrypting provider that no entry recognises fails
(``no matching prefix found``); plain data opens through ``identity`` when the
list has it. A read through anything but the first entry is *stale*: the
caller rewrites it on its next update (see ``store.py``).

AES-GCM with random nonces is safe for about 2^32 writes per key; Kubernetes
advises rotating every 200,000 writes. The key objects are made once, so a
write costs one ``os.urandom(12)`` and the cipher itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENCRYPTED = b"k8s:enc:"  # every encrypting provider's prefix starts so
_NONCE = 12
_IV = 16


class TransformError(Exception):
    """A stored value could not be opened (wrong key, corrupt data, no provider)."""


class Provider(Protocol):
    @property
    def prefix(self) -> bytes: ...

    def seal(self, data: bytes, aad: bytes) -> bytes:
        """``data`` as stored, prefix included."""
        ...

    def open(self, body: bytes, aad: bytes) -> bytes:
        """The plaintext of ``body`` (the stored value after ``prefix``)."""
        ...


@dataclass(frozen=True)
class Identity:
    prefix: bytes = b""

    def seal(self, data: bytes, aad: bytes) -> bytes:
        return data

    def open(self, body: bytes, aad: bytes) -> bytes:
        if body.startswith(ENCRYPTED):
            raise TransformError("identity transformer tried to read encrypted data")
        return body


class AESGCMKey:
    def __init__(self, name: str, secret: bytes) -> None:
        self.prefix = f"k8s:enc:aesgcm:v1:{name}:".encode()
        self._aead = AESGCM(secret)

    def seal(self, data: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return self.prefix + nonce + self._aead.encrypt(nonce, data, aad)

    def open(self, body: bytes, aad: bytes) -> bytes:
        if len(body) < _NONCE + 16:
            raise TransformError("the stored data was shorter than the required size")
        try:
            return self._aead.decrypt(body[:_NONCE], body[_NONCE:], aad)
        except InvalidTag:
            raise TransformError("cipher: message authentication failed") from None


class AESCBCKey:
    def __init__(self, name: str, secret: bytes) -> None:
        self.prefix = f"k8s:enc:aescbc:v1:{name}:".encode()
        self._algorithm = algorithms.AES(secret)

    def seal(self, data: bytes, aad: bytes) -> bytes:
        iv = os.urandom(_IV)
        padder = padding.PKCS7(128).padder()
        padded = padder.update(data) + padder.finalize()
        encryptor = Cipher(self._algorithm, modes.CBC(iv)).encryptor()
        return self.prefix + iv + encryptor.update(padded) + encryptor.finalize()

    def open(self, body: bytes, aad: bytes) -> bytes:
        if len(body) < 2 * _IV or len(body) % _IV:
            raise TransformError("the stored data is not a multiple of the block size")
        decryptor = Cipher(self._algorithm, modes.CBC(body[:_IV])).decryptor()
        padded = decryptor.update(body[_IV:]) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        try:
            return unpadder.update(padded) + unpadder.finalize()
        except ValueError:
            raise TransformError("invalid PKCS7 data (empty or not padded)") from None


class Chain:
    """One resource's providers, one entry per key, the writer first."""

    def __init__(self, entries: list[Provider]) -> None:
        assert entries, "a chain needs at least one provider"
        self._writer = entries[0]
        self._encrypting = [p for p in entries if p.prefix]
        self._identity = next((p for p in entries if not p.prefix), None)
        self.writes_plain = not self._writer.prefix

    def seal(self, data: bytes, key: str) -> bytes:
        return self._writer.seal(data, key.encode())

    def open(self, stored: bytes, key: str) -> tuple[bytes, bool]:
        """(plaintext, stale): stale when not written by the first provider and key."""
        if stored.startswith(ENCRYPTED):
            for provider in self._encrypting:
                if stored.startswith(provider.prefix):
                    body = stored[len(provider.prefix) :]
                    return provider.open(body, key.encode()), provider is not self._writer
            raise TransformError("no matching prefix found")
        if self._identity is None:
            raise TransformError("no matching prefix found")
        return self._identity.open(stored, b""), self._identity is not self._writer

    def is_current(self, stored: bytes) -> bool:
        """Whether ``stored`` is in the writer's form (no rewrite needed); no decryption."""
        if self.writes_plain:
            return not stored.startswith(ENCRYPTED)
        return stored.startswith(self._writer.prefix)

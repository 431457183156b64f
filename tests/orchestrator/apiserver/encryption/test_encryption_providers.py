"""The stored byte layouts: Kubernetes' prefixes, nonce/IV sizes, AAD bound to the key."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from orchestrator.apiserver.encryption.providers import (
    AESCBCKey,
    AESGCMKey,
    Chain,
    Identity,
    TransformError,
)

SECRET = bytes(range(32))
KEY = "/registry/core/secrets/default/db"
DATA = b'{"kind":"Secret","data":{"password":"aHVudGVyMg=="}}'


def test_aesgcm_layout_is_prefix_nonce_ciphertext_and_tag_with_the_storage_key_as_aad():
    stored = AESGCMKey("k1", SECRET).seal(DATA, KEY.encode())
    prefix = b"k8s:enc:aesgcm:v1:k1:"
    assert stored.startswith(prefix)
    body = stored[len(prefix) :]
    assert len(body) == 12 + len(DATA) + 16
    # Opened independently from the documented layout:
    assert AESGCM(SECRET).decrypt(body[:12], body[12:], KEY.encode()) == DATA


def test_aescbc_layout_is_prefix_iv_and_pkcs7_ciphertext():
    stored = AESCBCKey("old", SECRET[:16]).seal(DATA, b"")
    prefix = b"k8s:enc:aescbc:v1:old:"
    body = stored[len(prefix) :]
    decryptor = Cipher(algorithms.AES(SECRET[:16]), modes.CBC(body[:16])).decryptor()
    padded = decryptor.update(body[16:]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    assert unpadder.update(padded) + unpadder.finalize() == DATA


def test_a_value_copied_under_another_key_does_not_open():
    chain = Chain([AESGCMKey("k1", SECRET)])
    stored = chain.seal(DATA, KEY)
    with pytest.raises(TransformError, match="message authentication failed"):
        chain.open(stored, "/registry/core/secrets/default/other")


def test_reads_pick_the_provider_by_prefix_and_say_when_the_value_is_stale():
    old, new = AESGCMKey("k1", SECRET), AESGCMKey("k2", bytes(32))
    written_old = Chain([old]).seal(DATA, KEY)
    rotated = Chain([new, old, Identity()])
    assert rotated.open(written_old, KEY) == (DATA, True)
    assert rotated.open(rotated.seal(DATA, KEY), KEY) == (DATA, False)
    assert rotated.open(DATA, KEY) == (DATA, True)  # plaintext from before encryption
    assert rotated.is_current(rotated.seal(DATA, KEY))
    assert not rotated.is_current(written_old)


def test_an_unknown_key_or_plaintext_without_identity_fails_with_no_matching_prefix():
    chain = Chain([AESGCMKey("k2", SECRET)])
    with pytest.raises(TransformError, match="no matching prefix found"):
        chain.open(Chain([AESGCMKey("k1", SECRET)]).seal(DATA, KEY), KEY)
    with pytest.raises(TransformError, match="no matching prefix found"):
        chain.open(DATA, KEY)


def test_identity_first_reads_encrypted_values_with_their_key_and_marks_them_stale():
    aes = AESGCMKey("k1", SECRET)
    chain = Chain([Identity(), aes])
    assert chain.open(Chain([aes]).seal(DATA, KEY), KEY) == (DATA, True)
    assert chain.seal(DATA, KEY) == DATA

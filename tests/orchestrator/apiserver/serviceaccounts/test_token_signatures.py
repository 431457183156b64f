"""The cluster key's signatures: what verifies, what does not, and what is remembered."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.apiserver.serviceaccounts import signing
from orchestrator.apiserver.serviceaccounts.signing import Signer, b64url, ensure_key


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    return Signer(ensure_key(tmp_path / "sa.key"))


def test_a_signed_token_verifies_to_its_claims_every_time(signer: Signer) -> None:
    token = signer.sign({"sub": "system:serviceaccount:default:robot", "exp": 2_000_000_000})
    first = signer.verify(token)
    assert first == {"sub": "system:serviceaccount:default:robot", "exp": 2_000_000_000}
    assert signer.verify(token) == first


def test_tampered_forged_and_foreign_tokens_do_not_verify(signer: Signer, tmp_path: Path) -> None:
    token = signer.sign({"sub": "robot"})
    header, payload, signature = token.split(".")
    assert signer.verify(token) is not None  # remembered now: tampering must still fail
    other_claims = b64url(b'{"sub":"admin"}')
    assert signer.verify(f"{header}.{other_claims}.{signature}") is None
    assert signer.verify(f"{header}.{payload}.{signature[:-4]}AAAA") is None
    assert signer.verify(f"{header}.{payload}") is None
    foreign = Signer(ensure_key(tmp_path / "other.key")).sign({"sub": "robot"})
    assert signer.verify(foreign) is None


def test_only_so_many_verified_tokens_are_remembered(
    signer: Signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signing, "VERIFIED_CACHE", 3)
    tokens = [signer.sign({"n": n}) for n in range(5)]
    for token in tokens:
        assert signer.verify(token) is not None
    assert len(signer._verified) == 3
    assert all(signer.verify(token) == {"n": n} for n, token in enumerate(tokens))

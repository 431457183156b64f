"""The cluster's token signing key, and compact JWS (ES256) with it.

One P-256 key in the data dir (``sa.key``, PEM), created 0600 from its first
byte (``auth.write_private``, then linked into place) by the first API server that starts; every API
server of a cluster reads the same file. ES256 because the CA's keys are
P-256 already and its signatures are 64 bytes (RS256: 256). The ``kid`` is
the base64url SHA-256 of the public key's DER, as Kubernetes makes it, so
``/openid/v1/jwks`` can name it.

Only what this server issues is verified here: ``alg`` must be ES256 and
``kid`` ours; anything else is not a token of ours (``None``, never an error).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from orchestrator.pki import write_private

ALG = "ES256"
VERIFIED_CACHE = 4096  # tokens whose good signature is remembered (a few hundred bytes each)
_COORD = 32  # bytes of r and of s on P-256


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def ensure_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The signing key at ``path``, made (0600 from its first byte) if missing."""
    if not path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Written whole under another name, then linked into place: a link never replaces a
        # file, so of two API servers starting at once on one data dir, the first key wins.
        staged = path.with_name(f".{path.name}.{os.getpid()}.new")
        write_private(staged, pem.decode())
        try:
            os.link(staged, path)
        except FileExistsError:
            pass
        finally:
            staged.unlink(missing_ok=True)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path}: the service account signing key must be an EC (P-256) key")
    return loaded


class Signer:
    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key
        self.public = key.public_key()
        der = self.public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = b64url(hashlib.sha256(der).digest())
        self._header = b64url(json.dumps({"alg": ALG, "kid": self.kid}).encode())
        # token -> its claims, for tokens whose signature held: a signature check costs
        # ~80 us, and a pod's client sends the same token on every request. Only good
        # signatures are kept (forged tokens cannot fill it); exp and existence are still
        # checked on every use by the caller.
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def sign(self, claims: dict[str, Any]) -> str:
        payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{self._header}.{payload}".encode()
        r, s = decode_dss_signature(self._key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(_COORD, "big") + s.to_bytes(_COORD, "big")
        return f"{self._header}.{payload}.{b64url(signature)}"

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this key signed, or None (no exp/aud checks here).

        The claims are shared between calls for one token: read them, never change them.
        """
        claims = self._verified.get(token)
        if claims is not None:
            self._verified.move_to_end(token)
            return claims
        claims = self._check(token)
        if claims is not None:
            self._verified[token] = claims
            if len(self._verified) > VERIFIED_CACHE:
                self._verified.popitem(last=False)
        return claims

    def _check(self, token: str) -> dict[str, Any] | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = json.loads(b64url_decode(parts[0]))
            signature = b64url_decode(parts[2])
            if header.get("alg") != ALG or header.get("kid") != self.kid:
                return None
            if len(signature) != 2 * _COORD:
                return None
            r = int.from_bytes(signature[:_COORD], "big")
            s = int.from_bytes(signature[_COORD:], "big")
            self.public.verify(
                encode_dss_signature(r, s),
                f"{parts[0]}.{parts[1]}".encode(),
                ec.ECDSA(hashes.SHA256()),
            )
            claims = json.loads(b64url_decode(parts[1]))
        except (ValueError, InvalidSignature, AttributeError, TypeError):
            return None
        return claims if isinstance(claims, dict) else None

    def jwks(self) -> dict[str, Any]:
        """The public key as a JSON Web Key Set (``/openid/v1/jwks``)."""
        numbers = self.public.public_numbers()
        return {
            "keys": [
                {
                    "use": "sig",
                    "kty": "EC",
                    "kid": self.kid,
                    "crv": "P-256",
                    "alg": ALG,
                    "x": b64url(numbers.x.to_bytes(_COORD, "big")),
                    "y": b64url(numbers.y.to_bytes(_COORD, "big")),
                }
            ]
        }

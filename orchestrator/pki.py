"""The cluster's certificate authority, and the certificates made from it.

``paas up`` creates a CA once (``ca.crt``/``ca.key`` in the data dir) and
signs a serving certificate for the API server covering the loopback names
and the host it listens on, as k3s does. Keys are EC P-256: small and fast
to make. Existing files are reused, so restarts keep the kubeconfig valid;
the serving certificate is re-issued when the names it must cover change.

The API server also reaches each node agent's own HTTPS port (logs, later
exec). That connection is authenticated both ways:

- the API server presents a **client certificate** signed by the cluster CA
  (``ensure_client_cert``, common name ``KUBELET_CLIENT_NAME``); a node
  agent checks it against the CA it was given (``paas node --ca``) and the
  name, so holding a node token is not enough to read another node's logs;
- a node agent serves with a **self-signed certificate** of its own
  (``ensure_self_signed_cert``: a node needs no CA key, so a node joining
  from another machine gets one too) and publishes the certificate itself
  in its Node's ``KUBELET_SERVING_CERT_ANNOTATION``. The API server trusts
  exactly that certificate for that node (``pinned_context``): ordinary TLS
  verification with the one certificate as the only trust anchor, which
  works together with the client certificate in one SSL context, and lets
  a person do the same with ``curl --cacert``.

Private files (keys; kubeconfigs and tokens use the same ``write_private``)
are created 0600 from their first byte: written to a new file opened with
that mode (``O_EXCL``, so nobody can have opened it first), then renamed
over the old one. A chmod after writing would leave a window in which any
local user can open the file, and an open descriptor outlives the chmod.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import secrets
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=3650)
_RENEW_BEFORE = datetime.timedelta(days=30)  # a certificate this close to its end is re-issued

# The API server's client certificate for node agents, named as Kubernetes names it.
KUBELET_CLIENT_NAME = "kube-apiserver-kubelet-client"
# A Node's annotation with the PEM certificate its node agent serves HTTPS with.
KUBELET_SERVING_CERT_ANNOTATION = "paas.dev/kubelet-serving-cert"


@dataclass(frozen=True)
class CertPaths:
    cert: Path
    key: Path


def write_private(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` readable by its owner only, from the first byte on.

    A reader sees the old content or the new, never half of either.
    """
    raw = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def ensure_private_dir(path: Path) -> Path:
    """``path`` as a directory only its owner may enter (0700), made or narrowed."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def ensure_ca(directory: Path, common_name: str = "paas-ca") -> CertPaths:
    paths = CertPaths(directory / "ca.crt", directory / "ca.key")
    if paths.cert.exists() and paths.key.exists():
        return paths
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    write_private(paths.key, _key_pem(key))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return paths


def _sans(hosts: list[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            out.append(x509.DNSName(host))
    return out


def _reusable(paths: CertPaths, hosts: list[str] | None) -> bool:
    """The files exist, are not near their end, and cover ``hosts`` (when given)."""
    if not (paths.cert.exists() and paths.key.exists()):
        return False
    existing = x509.load_pem_x509_certificate(paths.cert.read_bytes())
    if existing.not_valid_after_utc - datetime.datetime.now(datetime.UTC) < _RENEW_BEFORE:
        return False
    if hosts is None:
        return True
    wanted = {str(n.value) for n in _sans(hosts)}
    try:
        san = existing.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return False
    have = {str(v) for v in san.value.get_values_for_type(x509.DNSName)}
    have |= {str(v) for v in san.value.get_values_for_type(x509.IPAddress)}
    return wanted <= have


def _issue(
    paths: CertPaths,
    common_name: str,
    usage: x509.ObjectIdentifier,
    *,
    hosts: list[str] | None = None,
    ca: CertPaths | None = None,
) -> CertPaths:
    """Make a key and a leaf certificate for one ``usage``, signed by ``ca`` or by itself."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    if ca is not None:
        signer = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
        issuer = x509.load_pem_x509_certificate(ca.cert.read_bytes()).subject
    else:
        signer, issuer = key, subject
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName(_sans(hosts)), critical=False)
    cert = builder.sign(signer, hashes.SHA256())  # type: ignore[arg-type]
    paths.cert.parent.mkdir(parents=True, exist_ok=True)
    write_private(paths.key, _key_pem(key))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return paths


def ensure_serving_cert(directory: Path, ca: CertPaths, name: str, hosts: list[str]) -> CertPaths:
    """A certificate for ``hosts`` signed by ``ca``; reused while it covers them."""
    paths = CertPaths(directory / f"{name}.crt", directory / f"{name}.key")
    if _reusable(paths, hosts):
        return paths
    return _issue(paths, name, ExtendedKeyUsageOID.SERVER_AUTH, hosts=hosts, ca=ca)


def ensure_client_cert(
    directory: Path, ca: CertPaths, name: str, common_name: str = KUBELET_CLIENT_NAME
) -> CertPaths:
    """A client certificate for ``common_name`` signed by ``ca`` (``name``.crt/.key)."""
    paths = CertPaths(directory / f"{name}.crt", directory / f"{name}.key")
    if _reusable(paths, None):
        existing = x509.load_pem_x509_certificate(paths.cert.read_bytes())
        names = existing.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if [n.value for n in names] == [common_name]:
            return paths
    return _issue(paths, common_name, ExtendedKeyUsageOID.CLIENT_AUTH, ca=ca)


def ensure_self_signed_cert(directory: Path, name: str, hosts: list[str]) -> CertPaths:
    """A self-signed serving certificate for ``hosts``; reused while it covers them."""
    paths = CertPaths(directory / f"{name}.crt", directory / f"{name}.key")
    if _reusable(paths, hosts):
        return paths
    return _issue(paths, name, ExtendedKeyUsageOID.SERVER_AUTH, hosts=hosts)


def fingerprint(cert_pem: bytes) -> str:
    """The SHA-256 of the certificate's DER form, as hex (what ``openssl x509 -fingerprint``
    shows, without the colons)."""
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def pinned_context(cert_pem: bytes, client: CertPaths | None = None) -> ssl.SSLContext:
    """A client context that trusts exactly ``cert_pem`` and presents ``client``.

    The pinned certificate is the only trust anchor (a partial chain is
    allowed, so a CA-signed certificate can be pinned too); host names are not
    checked because nothing else could verify against this anchor anyway.
    Raises ValueError when ``cert_pem`` is not a certificate.
    """
    context = ssl.create_default_context()
    context.load_verify_locations(cadata=_pem_text(cert_pem))
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    context.check_hostname = False
    if client is not None:
        context.load_cert_chain(str(client.cert), str(client.key))
    return context


def client_verifying_context(serving: CertPaths, client_ca_pem: bytes | None) -> ssl.SSLContext:
    """A server context serving ``serving`` that asks for a client certificate.

    A certificate is verified against ``client_ca_pem`` when the client sends
    one; the handler decides what an absent one means (``peer_common_name``).
    Without a CA no client certificate can be verified, so none is asked for.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(serving.cert), str(serving.key))
    if client_ca_pem is not None:
        context.load_verify_locations(cadata=_pem_text(client_ca_pem))
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def peer_common_name(peercert: object) -> str:
    """The common name of a verified peer certificate (``ssl.getpeercert()``), or ""."""
    if not isinstance(peercert, dict):
        return ""
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return ""


def _pem_text(pem: bytes) -> str:
    try:
        x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise ValueError(f"not a PEM certificate: {exc}") from None
    return pem.decode("ascii")

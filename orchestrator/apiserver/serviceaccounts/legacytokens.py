"""Long-lived tokens in Secrets of type ``kubernetes.io/service-account-token``.

Kubernetes' documented way to get a token that does not expire for a
ServiceAccount ("manually create a long-lived API token"), still what many
tools ask for (CI systems, dashboards, ``argocd cluster add``):

.. code-block:: yaml

    apiVersion: v1
    kind: Secret
    type: kubernetes.io/service-account-token
    metadata:
      name: robot-token
      annotations: {kubernetes.io/service-account.name: robot}

``LegacyTokenController`` fills such a Secret as Kubernetes' tokens
controller does: ``data.token`` (a JWT with the legacy claims below),
``data.ca.crt`` (the cluster CA), ``data.namespace``, and the annotation
``kubernetes.io/service-account.uid``. A Secret naming a ServiceAccount that
does not exist, or exists with another uid than the annotation says, is
deleted; deleting a ServiceAccount deletes its token Secrets.

Claims (Kubernetes' ``legacy.go``): ``iss: kubernetes/serviceaccount``,
``sub: system:serviceaccount:<ns>:<name>`` and ``kubernetes.io/serviceaccount/``
+ ``namespace``, ``secret.name``, ``service-account.name``,
``service-account.uid``; no expiry, no audience. ``check`` (used by the
token authenticator) accepts such a token while its Secret still holds
exactly that token and its ServiceAccount exists with the uid it names,
from the watch-fed cache (``boundobjects``): deleting the Secret revokes it.

Where Kubernetes runs this controller in the controller-manager (which then
needs the signing key too), it runs here, in the API server that already
holds the key: the private key never leaves the process that verifies with
it. Several API servers on one store race harmlessly: every write is
compare-and-swap, and a Secret found filled is left alone.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator.api import errors
from orchestrator.api.objects import Obj, annotations_of, metadata_of
from orchestrator.api.resources import ResourceTypes
from orchestrator.apiserver.registry import Registry, WriteOptions
from orchestrator.apiserver.serviceaccounts.signing import Signer
from orchestrator.apiserver.watchcache import Change, WatchHub
from orchestrator.store.base import StoreError

log = logging.getLogger(__name__)

TOKEN_TYPE = "kubernetes.io/service-account-token"
NAME_ANNOTATION = "kubernetes.io/service-account.name"
UID_ANNOTATION = "kubernetes.io/service-account.uid"
ISSUER = "kubernetes/serviceaccount"
_CLAIM = "kubernetes.io/serviceaccount/"
# whose writes these are in Kubernetes (webhooks and managedFields see that name)
_OPTS = WriteOptions(user="system:kube-controller-manager", field_manager="kube-controller-manager")


def legacy_claims(namespace: str, secret: str, account: str, account_uid: str) -> dict[str, Any]:
    return {
        "iss": ISSUER,
        f"{_CLAIM}namespace": namespace,
        f"{_CLAIM}secret.name": secret,
        f"{_CLAIM}service-account.name": account,
        f"{_CLAIM}service-account.uid": account_uid,
        "sub": f"system:serviceaccount:{namespace}:{account}",
    }


def token_digest(secret: Obj) -> str:
    """SHA-256 of the token a Secret of the token type holds ("" for none or another type)."""
    if secret.get("type") != TOKEN_TYPE:
        return ""
    encoded = (secret.get("data") or {}).get("token")
    if not isinstance(encoded, str) or not encoded:
        return ""
    try:
        raw = base64.b64decode(encoded, validate=True)
    except ValueError:
        return ""
    return hashlib.sha256(raw).hexdigest()


def claimed(claims: dict[str, Any], name: str) -> str:
    value = claims.get(f"{_CLAIM}{name}")
    return value if isinstance(value, str) else ""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


class LegacyTokenController:
    def __init__(
        self,
        registry: Registry,
        hub: WatchHub,
        types: ResourceTypes,
        signer: Signer,
        root_ca: Path | None,
        remember: Callable[[str, Obj], None] = lambda kind, obj: None,
        pause: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.registry = registry
        self.hub = hub
        self.signer = signer
        self.root_ca = root_ca
        self.secrets = types.require("", "Secret")
        self.accounts = types.require("", "ServiceAccount")
        self.queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.queued: set[tuple[str, str]] = set()
        # (namespace, secret) -> the account it names: which Secrets an account's events touch
        self.naming: dict[tuple[str, str], str] = {}
        self._pause = pause
        self._remember = remember  # the token authenticator's cache, told before the watch

    # -- following ------------------------------------------------------------------------

    def _enqueue(self, namespace: str, name: str) -> None:
        if (namespace, name) not in self.queued:
            self.queued.add((namespace, name))
            self.queue.put_nowait((namespace, name))

    def _note_secret(self, obj: Obj, gone: bool) -> None:
        meta = metadata_of(obj)
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        if gone or obj.get("type") != TOKEN_TYPE:
            self.naming.pop(key, None)
            return
        self.naming[key] = annotations_of(obj).get(NAME_ANNOTATION, "")
        self._enqueue(*key)

    def _note_account(self, obj: Obj) -> None:
        meta = metadata_of(obj)
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        for (ns, secret), account in list(self.naming.items()):
            if ns == namespace and account == name:
                self._enqueue(ns, secret)

    async def _list(self) -> int:
        pause = 0.5
        while True:
            try:
                secrets, revision, _ = await self.registry.list(self.secrets, "")
                break
            except (errors.APIError, StoreError, OSError) as exc:
                # e.g. a Secret no configured key decrypts (encryption at rest): said, not spun
                log.warning(
                    "cannot list Secrets for the tokens controller (%s); retrying in %.0fs",
                    exc,
                    pause,
                )
                await self._pause(pause)
                pause = min(pause * 2, 30.0)
        self.naming.clear()
        for secret in secrets:
            self._note_secret(secret, gone=False)
        return revision

    async def _follow(self) -> None:
        """Secrets and ServiceAccounts from one listed revision; after a break, list again."""
        revision = await self._list()
        while True:
            followers = [
                asyncio.create_task(self._changes(self.secrets.storage_prefix(), revision, True)),
                asyncio.create_task(self._changes(self.accounts.storage_prefix(), revision, False)),
            ]
            try:
                await asyncio.wait(followers, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in followers:
                    task.cancel()
                await asyncio.gather(*followers, return_exceptions=True)
            log.info("the tokens controller re-lists Secrets after a broken watch")
            revision = await self._list()

    async def _changes(self, prefix: str, revision: int, secrets: bool) -> None:
        async for change in self.hub.changes(prefix, revision):
            if not isinstance(change, Change):
                continue
            if secrets:
                self._note_secret(change.obj, gone=change.type == "DELETE")
            else:
                self._note_account(change.obj)

    async def run(self) -> None:
        """Follow Secrets and ServiceAccounts and keep token Secrets filled, until cancelled."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._follow(), name="legacy tokens: follow")
            tg.create_task(self._work(), name="legacy tokens: work")

    async def _work(self) -> None:
        while True:
            namespace, name = await self.queue.get()
            self.queued.discard((namespace, name))
            try:
                await self.sync(namespace, name)
            except (errors.Conflict, errors.APIError, StoreError, OSError) as exc:
                log.info("token Secret %s/%s: %s; trying again", namespace, name, exc)
                await self._pause(0.5)
                self._enqueue(namespace, name)

    # -- one Secret -----------------------------------------------------------------------

    async def sync(self, namespace: str, name: str) -> None:
        """Fill, keep or delete the token Secret ``namespace/name`` (one step)."""
        try:
            secret = await self.registry.get(self.secrets, namespace, name)
        except errors.NotFound:
            return
        meta = metadata_of(secret)
        if secret.get("type") != TOKEN_TYPE or meta.get("deletionTimestamp"):
            return
        annotations = annotations_of(secret)
        account_name = annotations.get(NAME_ANNOTATION, "")
        try:
            account = await self.registry.get(self.accounts, namespace, account_name)
        except errors.NotFound:
            account = None
        wanted_uid = annotations.get(UID_ANNOTATION, "")
        account_uid = str(metadata_of(account).get("uid") or "") if account else ""
        if account is None or (wanted_uid and wanted_uid != account_uid):
            why = "does not exist" if account is None else f"now has uid {account_uid}"
            log.info(
                "deleting token Secret %s/%s: ServiceAccount %r %s",
                namespace,
                name,
                account_name,
                why,
            )
            await self._delete(secret)
            return
        if self._filled(secret, account_uid):
            return
        data = dict(secret.get("data") or {})
        claims = legacy_claims(namespace, name, account_name, account_uid)
        data["token"] = _b64(self.signer.sign(claims))
        data["namespace"] = _b64(namespace)
        if self.root_ca is not None and self.root_ca.is_file():
            data["ca.crt"] = _b64(self.root_ca.read_text())
        updated = {
            **secret,
            "metadata": {**meta, "annotations": {**annotations, UID_ANNOTATION: account_uid}},
            "data": data,
        }
        result = await self.registry.update(self.secrets, namespace, name, updated, _OPTS)
        self._remember("Secret", result.obj)  # good from the moment anyone can read it
        log.info("filled token Secret %s/%s for ServiceAccount %s", namespace, name, account_name)

    def _filled(self, secret: Obj, account_uid: str) -> bool:
        """It holds a token of ours for this Secret and account, the namespace, the uid."""
        data = secret.get("data") or {}
        meta = metadata_of(secret)
        if annotations_of(secret).get(UID_ANNOTATION) != account_uid or "namespace" not in data:
            return False
        try:
            token = base64.b64decode(str(data.get("token") or ""), validate=True).decode()
        except ValueError:
            return False
        claims = self.signer.verify(token)
        return (
            claims is not None
            and claims.get("iss") == ISSUER
            and claimed(claims, "secret.name") == meta.get("name")
            and claimed(claims, "namespace") == meta.get("namespace")
            and claimed(claims, "service-account.uid") == account_uid
        )

    async def _delete(self, secret: Obj) -> None:
        meta = metadata_of(secret)
        options = {"preconditions": {"uid": meta.get("uid")}}  # not a Secret made since
        try:
            await self.registry.delete(
                self.secrets, str(meta.get("namespace")), str(meta.get("name")), options, _OPTS
            )
        except errors.NotFound:
            pass

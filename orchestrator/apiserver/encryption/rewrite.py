"""The start-up pass: rewrite what is not stored in the first provider's form.

With a new configuration, objects written before it (in plaintext, or with a
key now second) stay as they are until written again. The API server runs
this pass once at start, in the background: it pages through every configured
prefix at the latest revision, and for each value whose stored prefix is not
the writer's, opens it and writes it back sealed, as a compare-and-swap on
the revision it read. A write that lost the race needs nothing: whoever won
wrote it with the current key. A value that cannot be opened is counted and
left (its reads answer 500 until an operator deals with it). After a rotation
this is what ``kubectl get secrets -A -o json | kubectl replace -f -`` does
through the API (and ``paas secrets rewrite``), without a request per object.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from orchestrator.apiserver.encryption.providers import TransformError
from orchestrator.apiserver.encryption.store import EncryptedStore
from orchestrator.store.base import KeyNotFound, RevisionMismatch

log = logging.getLogger(__name__)

_PAGE = 500  # values per read: bounded memory whatever the number of Secrets


@dataclass(frozen=True)
class RewriteReport:
    scanned: int
    rewritten: int
    unreadable: int


def _roots(prefixes: list[str]) -> list[str]:
    """The prefixes not under another one, so that no key is visited twice."""
    return [p for p in prefixes if not any(p != q and p.startswith(q) for q in prefixes)]


async def rewrite_stale(store: EncryptedStore) -> RewriteReport:
    """Re-seal every configured value not in the writer's form; counts of what it did."""
    scanned = rewritten = unreadable = 0
    for root in _roots([prefix for prefix, _ in store.config.by_prefix()]):
        start_after = ""
        while True:
            page = await store.inner.list(root, start_after=start_after, limit=_PAGE)
            for kv in page.items:
                chain = store.chain_for(kv.key)
                if chain is None:
                    continue
                scanned += 1
                if chain.is_current(kv.value):
                    continue
                try:
                    plain, _ = chain.open(kv.value, kv.key)
                except TransformError as exc:
                    unreadable += 1
                    log.error('unable to transform key "%s": %s; left as stored', kv.key, exc)
                    continue
                try:
                    await store.inner.update(kv.key, chain.seal(plain, kv.key), kv.mod_revision)
                except (RevisionMismatch, KeyNotFound):
                    continue  # written or deleted meanwhile: by a writer with the current key
                rewritten += 1
            if not page.more:
                break
            start_after = page.items[-1].key
    report = RewriteReport(scanned, rewritten, unreadable)
    log.info(
        "encryption at rest: rewrote %d of %d stored objects with the current provider "
        "(%d unreadable)",
        rewritten,
        scanned,
        unreadable,
    )
    return report

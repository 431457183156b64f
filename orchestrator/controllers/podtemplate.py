"""Pod templates of Deployments: the stable hash that names a ReplicaSet, and equality.

A Deployment's template is stamped onto a ReplicaSet named
``{deployment}-{hash}``, with the label ``pod-template-hash={hash}`` added to
the set's selector, template and so to its pods (kubectl reads all three).
The hash is a sha256 of the template's canonical JSON (keys sorted, the hash
label itself left out) and of the Deployment's ``collisionCount``, spelled in
Kubernetes' 27-letter alphabet so it is a valid name and label value. It is
stable across processes and Python versions; bumping ``collisionCount``
yields a new name when an unrelated object already took the old one.

Templates are compared without the hash label, and with empty ``labels`` or
``annotations`` maps treated as absent, so a ReplicaSet written back by the
server still matches the Deployment it came from.
"""

from __future__ import annotations

import copy
import hashlib
import json

from orchestrator.api.objects import Obj

HASH_LABEL = "pod-template-hash"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
HASH_LENGTH = 10


def without_hash(template: Obj | None) -> Obj:
    """A copy of ``template`` without the hash label and without empty metadata maps."""
    out = copy.deepcopy(template or {})
    meta = out.get("metadata")
    if isinstance(meta, dict):
        labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != HASH_LABEL}
        meta.pop("labels", None)
        if labels:
            meta["labels"] = labels
        if not meta.get("annotations"):
            meta.pop("annotations", None)
        if meta.get("creationTimestamp") is None:
            meta.pop("creationTimestamp", None)
        if not meta:
            out.pop("metadata")
    return out


def template_hash(template: Obj | None, collision_count: int = 0) -> str:
    """Ten characters of [bcdfghjklmnpqrstvwxz2456789] that identify ``template``."""
    text = json.dumps(without_hash(template), sort_keys=True, separators=(",", ":"))
    if collision_count:
        text += f"#{collision_count}"
    digest = hashlib.sha256(text.encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:HASH_LENGTH])


def same_template(a: Obj | None, b: Obj | None) -> bool:
    """Equal apart from the hash label (Kubernetes' ``EqualIgnoreHash``)."""
    return without_hash(a) == without_hash(b)


def with_hash(template: Obj | None, hash_: str) -> Obj:
    """A copy of ``template`` whose labels carry ``pod-template-hash``."""
    out = copy.deepcopy(template or {})
    meta = out.setdefault("metadata", {})
    meta["labels"] = {**(meta.get("labels") or {}), HASH_LABEL: hash_}
    return out


def selector_with_hash(selector: Obj | None, hash_: str) -> Obj:
    out = copy.deepcopy(selector or {})
    out["matchLabels"] = {**(out.get("matchLabels") or {}), HASH_LABEL: hash_}
    return out

"""``/openapi/v3``: the published schemas of the custom kinds, kept per catalogue.

The documents are built from the catalogue the server is serving (one per
custom group-version) the first time they are asked for after the catalogue
changed, then served as bytes with their hash, so ``kubectl explain`` sees a
new CRD as soon as discovery does. Built-in kinds publish no OpenAPI v3 (see
``openapi``: kubectl then leaves validation to the server, as it does with
the empty ``/openapi/v2``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.api.resources import ResourceType, ResourceTypes
from orchestrator.apiserver import openapi
from orchestrator.apiserver.crds.strategy import CustomStrategy


@dataclass
class OpenAPIDocuments:
    _for: ResourceTypes | None = None
    _docs: dict[str, bytes] = field(default_factory=dict)
    _hashes: dict[str, str] = field(default_factory=dict)

    def current(self, types: ResourceTypes) -> tuple[dict[str, bytes], dict[str, str]]:
        """path (``apis/G/V``) -> document bytes, and path -> hash, for ``types``."""
        if types is not self._for:
            self._docs = build_documents(types)
            self._hashes = {path: openapi.document_hash(doc) for path, doc in self._docs.items()}
            self._for = types
        return self._docs, self._hashes


def _doc(rt: ResourceType) -> openapi.CustomKindDoc | None:
    strategy = rt.strategy
    if not isinstance(strategy, CustomStrategy):
        return None
    return openapi.CustomKindDoc(
        kind=rt.kind,
        list_kind=rt.list_kind,
        plural=rt.plural,
        singular=rt.singular,
        namespaced=rt.namespaced,
        schema=strategy.schema,
        has_status="status" in rt.subresources,
        has_scale="scale" in rt.subresources,
    )


def build_documents(types: ResourceTypes) -> dict[str, bytes]:
    by_group_version: dict[tuple[str, str], list[openapi.CustomKindDoc]] = {}
    for rt in types:
        doc = _doc(rt)
        if doc is not None:
            by_group_version.setdefault((rt.group, rt.version), []).append(doc)
    return {
        f"apis/{group}/{version}": openapi.document_bytes(
            openapi.group_version_document(group, version, docs)
        )
        for (group, version), docs in by_group_version.items()
    }

"""``/openapi/v3``: the published schemas of the served kinds, kept per catalogue.

The documents are built from the catalogue the server is serving (one per
group-version: ``api/v1``, ``apis/apps/v1``, ``apis/<crd group>/<v>``...) the
first time they are asked for after the catalogue changed, then served as
bytes with their hash, so ``kubectl explain`` sees a new CRD as soon as
discovery does. Custom kinds publish their CRD's schema; built-in kinds the
tables the server validates with (``openapi_builtin``), under each version
they are served at. Every PATCH lists ``fieldValidation``, so kubectl leaves
validation to the server.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.api.resources import ResourceType, ResourceTypes
from orchestrator.apiserver import openapi, openapi_builtin
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
        if rt.strategy is None:  # built in: under every version it is served at
            for version in (rt.version, *rt.extra_versions):
                builtin = openapi_builtin.kind_doc(rt, version)
                if builtin is not None:
                    by_group_version.setdefault((rt.group, version), []).append(builtin)
            continue
        doc = _doc(rt)
        if doc is not None:
            by_group_version.setdefault((rt.group, rt.version), []).append(doc)
    return {
        _index_key(group, version): openapi.document_bytes(
            openapi.group_version_document(group, version, docs)
        )
        for (group, version), docs in by_group_version.items()
    }


def _index_key(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"

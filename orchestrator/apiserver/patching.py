"""PATCH: the four content types, applied inside a guaranteed update.

The patch is applied to the object as read, so a retry after a concurrent
write re-applies it to the fresh object (as Kubernetes does). A patch that
sets ``metadata.resourceVersion`` to a stale value gets 409.

Server-side apply (``application/apply-patch+yaml``) creates an absent
object (201) and otherwise merges by field ownership (``applying.py``):
fields the manager dropped are removed, another manager's fields answer 409
unless ``force``. Every other patch records its writer's fields as an Update
(``managedfields.py``, called by the registry).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from orchestrator.api import errors
from orchestrator.api.objects import Obj, metadata_of
from orchestrator.api.patch import (
    MalformedPatch,
    PatchError,
    TooManyOperations,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
    check_operation_count,
)
from orchestrator.api.resources import ResourceType
from orchestrator.api.strategy import strategy_of
from orchestrator.apiserver import applying, decoding
from orchestrator.apiserver.registry import (
    Registry,
    WriteOptions,
    WriteResult,
    check_unknown_fields,
    keep_status,
)
from orchestrator.apiserver.wire import off_loop

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE, STRATEGIC, APPLY)


CUSTOM_PATCH_TYPES = (JSON_PATCH, MERGE, APPLY)  # custom kinds: no strategic merge


def unsupported_patch_type(accepted: tuple[str, ...]) -> errors.UnsupportedMediaType:
    return errors.UnsupportedMediaType(
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted)
    )


def parse_patch(content_type: str, raw: bytes) -> Any:
    if content_type not in PATCH_TYPES:
        raise unsupported_patch_type(PATCH_TYPES)
    try:
        if content_type == APPLY:
            return decoding.load_yaml(raw)
        return decoding.load_json(raw)
    except decoding.TooLarge as exc:
        raise errors.RequestEntityTooLarge(f"Request entity too large: {exc}") from None
    except decoding.DecodeError as exc:
        raise errors.BadRequest(f"error decoding patch: {exc}") from None


def sets_resource_version(patch: Any) -> bool:
    """Whether the patch itself names ``metadata.resourceVersion`` (a precondition)."""
    if isinstance(patch, list):
        return any(
            isinstance(op, dict) and str(op.get("path", "")) == "/metadata/resourceVersion"
            for op in patch
        )
    if isinstance(patch, dict):
        meta = patch.get("metadata")
        return isinstance(meta, dict) and meta.get("resourceVersion") is not None
    return False


def patched(rt: ResourceType, current: Obj, content_type: str, patch: Any) -> Obj:
    try:
        if content_type == JSON_PATCH:
            if not isinstance(patch, list):
                raise MalformedPatch("a json patch must be a list of operations")
            # moves and copies can nest a value deeper than any body may: checked after
            result = apply_json_patch(current, patch)
            decoding.check_depth(result)
            return result
        if not isinstance(patch, dict):
            raise MalformedPatch(f"a {content_type} body must be a JSON object")
        if content_type == MERGE:
            return apply_merge_patch(current, patch)
        return apply_strategic_merge_patch(current, patch, rt.kind)
    except TooManyOperations as exc:
        raise errors.RequestEntityTooLarge(str(exc)) from exc
    except MalformedPatch as exc:
        raise errors.BadRequest(str(exc)) from exc
    except (RecursionError, decoding.DecodeError):
        name = metadata_of(current).get("name", "")
        raise errors.Invalid(
            f'{rt.qualified_kind} "{name}" is invalid: the patched object exceeds the max depth '
            f"of {decoding.MAX_DEPTH}"
        ) from None
    except PatchError as exc:
        name = metadata_of(current).get("name", "")
        raise errors.Invalid(f'{rt.qualified_kind} "{name}" is invalid: {exc}') from exc


async def patch_object(
    registry: Registry,
    rt: ResourceType,
    namespace: str,
    name: str,
    content_type: str,
    raw: bytes,
    opts: WriteOptions,
    *,
    subresource: str = "",
    field_manager: str = "",
    force: bool = False,
) -> WriteResult:
    if content_type == STRATEGIC and not strategy_of(rt).strategic_merge:
        raise unsupported_patch_type(CUSTOM_PATCH_TYPES)
    patch = await off_loop(raw, parse_patch, content_type, raw)
    if content_type == JSON_PATCH and isinstance(patch, list):
        try:  # refused before the object is read
            check_operation_count(patch)
        except TooManyOperations as exc:
            raise errors.RequestEntityTooLarge(str(exc)) from exc
    if content_type == APPLY and not field_manager:
        raise errors.Invalid(
            "PATCH requests with content type application/apply-patch+yaml require a fieldManager",
            details={
                "causes": [
                    {
                        "field": "fieldManager",
                        "reason": "FieldValueRequired",
                        "message": "Required value: is required for apply patch",
                    }
                ]
            },
        )

    if force and content_type != APPLY:
        raise errors.Invalid(
            "force: Forbidden: may not be specified for non-apply patch",
            details={
                "causes": [
                    {
                        "field": "force",
                        "reason": "FieldValueForbidden",
                        "message": "Forbidden: may not be specified for non-apply patch",
                    }
                ]
            },
        )
    if content_type == APPLY:
        patch = applying.check_config(patch)
        opts = dataclasses.replace(opts, apply=True, field_manager=field_manager)
    warnings: list[str] = []

    def mutate(current: Obj) -> Obj:
        if content_type == APPLY:
            new = applying.apply(
                rt, current, patch, field_manager, force=force, subresource=subresource
            )
        else:
            new = patched(rt, current, content_type, patch)
        warnings[:] = check_unknown_fields(rt, new, opts, before=current)
        if not isinstance(new.get("metadata"), dict):
            raise errors.Invalid(
                f'{rt.qualified_kind} "{name}" is invalid: metadata: Required value'
            )
        out = new
        if subresource == "status":
            current["status"] = new.get("status", {})
            if content_type == APPLY:  # the entries the apply computed, on the stored object
                current["metadata"]["managedFields"] = new["metadata"].get("managedFields", [])
            out = current
        elif rt.has_status:
            keep_status(rt, new, current)
        if not sets_resource_version(patch):
            # no precondition: a concurrent write means re-apply to the fresh object, not 409
            out["metadata"].pop("resourceVersion", None)
        return out

    async def create_applied() -> WriteResult:
        body = applying.create_applied(rt, patch, field_manager)
        body.setdefault("metadata", {}).setdefault("name", name)
        return await registry.create(rt, namespace, body, opts)

    on_missing = create_applied if content_type == APPLY and not subresource else None
    result = await registry.guaranteed_update(
        rt, namespace, name, mutate, opts, on_missing=on_missing, subresource=subresource
    )
    if not result.created:
        result.warnings = warnings + result.warnings
    return result

"""Tables of cases for the typed views of metadata and owner references."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.api.objects import (
    annotations_of,
    controller_ref,
    labels_of,
    metadata_of,
    owner_references_of,
)

RS = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u-1"}
CONTROLLER = {**RS, "controller": True, "blockOwnerDeletion": True}
OTHER = {"apiVersion": "v1", "kind": "ConfigMap", "name": "cfg", "uid": "u-2"}


@pytest.mark.parametrize("obj", [{}, {"metadata": None}, {"metadata": "web"}, {"metadata": {}}])
def test_missing_metadata_reads_as_empty(obj: dict[str, Any]) -> None:
    assert metadata_of(obj) == {}
    assert labels_of(obj) == {}
    assert annotations_of(obj) == {}
    assert owner_references_of(obj) == []
    assert controller_ref(obj) is None


def test_views_are_the_objects_own_dicts_with_unknown_fields_kept() -> None:
    meta = {"name": "p", "labels": {"app": "web"}, "x-future": {"kept": True}}
    obj = {"metadata": meta, "spec": {}}
    assert metadata_of(obj) is meta
    assert metadata_of(obj)["x-future"] == {"kept": True}  # type: ignore[typeddict-item]
    assert labels_of(obj) is meta["labels"]


@pytest.mark.parametrize(
    ("refs", "expected"),
    [
        ([], None),
        ([OTHER], None),
        ([OTHER, CONTROLLER], CONTROLLER),
        ([{**RS, "controller": False}], None),
        ([CONTROLLER, {**OTHER, "controller": True}], CONTROLLER),  # invalid; the first wins
    ],
)
def test_controller_ref_is_the_entry_with_controller_true(
    refs: list[dict[str, Any]], expected: dict[str, Any] | None
) -> None:
    obj = {"metadata": {"ownerReferences": refs}}
    assert owner_references_of(obj) == refs
    assert controller_ref(obj) == expected

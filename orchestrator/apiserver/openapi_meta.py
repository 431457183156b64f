"""The shared schemas a custom resource's OpenAPI v3 document refers to.

Every custom kind's schema points at ``ObjectMeta`` for ``metadata``; lists
at ``ListMeta``; deletes answer ``Status`` and read ``DeleteOptions``; patches
read ``Patch``; the scale subresource speaks ``autoscaling/v1`` ``Scale``.
Kubernetes puts the generated definitions of these types into each CRD
document; these are the same shapes (names, types, formats, list and map
markers), with descriptions of our own, so that ``kubectl explain
crontab.metadata`` and ``--recursive`` can follow every ``$ref`` to its end.

``meta_schemas(scale=...)`` returns fresh dicts each call: documents are
encoded once and hashed, never shared or mutated afterwards.
"""

from __future__ import annotations

from typing import Any

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
OBJECT_META = META + "ObjectMeta"
LIST_META = META + "ListMeta"
STATUS = META + "Status"
PATCH = META + "Patch"
DELETE_OPTIONS = META + "DeleteOptions"
SCALE = "io.k8s.api.autoscaling.v1.Scale"


def ref(name: str, description: str = "") -> dict[str, Any]:
    """A ``$ref`` to a component schema, with the field's own description beside it."""
    schema: dict[str, Any] = {"$ref": f"#/components/schemas/{name}"}
    if description:
        schema["description"] = description
    return schema


def _s(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _i(description: str, fmt: str = "int64") -> dict[str, Any]:
    return {"type": "integer", "format": fmt, "description": description}


def _b(description: str) -> dict[str, Any]:
    return {"type": "boolean", "description": description}


def _strings(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}, "description": description, **extra}


def _map(description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": description,
    }


def _object(description: str, properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "description": description, "properties": properties, **extra}


_API_VERSION = _s("The versioned schema of this representation of an object (group/version).")
_KIND = _s("The REST resource this object represents, in CamelCase.")


def _object_meta() -> dict[str, Any]:
    return _object(
        "Metadata every persisted resource has: its name, labels, owners and bookkeeping.",
        {
            "annotations": _map("Unstructured key/value data set by tools and users."),
            "creationTimestamp": ref(META + "Time", "When the server created the object."),
            "deletionGracePeriodSeconds": _i("Seconds allowed for graceful termination."),
            "deletionTimestamp": ref(META + "Time", "When the object will be deleted."),
            "finalizers": _strings(
                "Entries that must be removed before the object is deleted.",
                **{"x-kubernetes-list-type": "set"},
            ),
            "generateName": _s("Prefix for a server-generated name, used when name is empty."),
            "generation": _i("Sequence number of the desired state; set by the server."),
            "labels": _map("Key/value pairs for organising and selecting objects."),
            "managedFields": {
                "type": "array",
                "items": ref(META + "ManagedFieldsEntry"),
                "description": "Which manager owns which fields (server-side apply).",
                "x-kubernetes-list-type": "atomic",
            },
            "name": _s("Unique within a namespace; cannot be updated."),
            "namespace": _s("The namespace of a namespaced object; empty for cluster objects."),
            "ownerReferences": {
                "type": "array",
                "items": ref(META + "OwnerReference"),
                "description": "Objects this one depends on; garbage collected after them.",
                "x-kubernetes-list-map-keys": ["uid"],
                "x-kubernetes-list-type": "map",
                "x-kubernetes-patch-merge-key": "uid",
                "x-kubernetes-patch-strategy": "merge",
            },
            "resourceVersion": _s("Opaque version for optimistic concurrency and watches."),
            "selfLink": _s("Deprecated; never set."),
            "uid": _s("Unique identifier for the lifetime of the object; set by the server."),
        },
    )


def meta_schemas(*, scale: bool = False) -> dict[str, dict[str, Any]]:
    """Component schemas for ObjectMeta, ListMeta, Status, Patch, DeleteOptions (and Scale)."""
    schemas: dict[str, dict[str, Any]] = {
        OBJECT_META: _object_meta(),
        META + "Time": _s("An RFC 3339 timestamp, in UTC.", format="date-time"),
        META + "FieldsV1": {"type": "object", "description": "A set of fields, as JSON."},
        META + "ManagedFieldsEntry": _object(
            "The fields one manager owns, and how it last wrote them.",
            {
                "apiVersion": _s("The version of the resource the fields are in."),
                "fieldsType": _s('The format of fieldsV1: always "FieldsV1".'),
                "fieldsV1": ref(META + "FieldsV1", "The owned fields."),
                "manager": _s("The identifier of the workflow managing these fields."),
                "operation": _s("Apply or Update."),
                "subresource": _s("The subresource written through, if any."),
                "time": ref(META + "Time", "When the fields were last changed."),
            },
        ),
        META + "OwnerReference": _object(
            "An object this one belongs to.",
            {
                "apiVersion": _s("API version of the owner."),
                "blockOwnerDeletion": _b("Foreground deletion of the owner waits for this one."),
                "controller": _b("The owner is the managing controller."),
                "kind": _s("Kind of the owner."),
                "name": _s("Name of the owner."),
                "uid": _s("UID of the owner."),
            },
            required=["apiVersion", "kind", "name", "uid"],
            **{"x-kubernetes-map-type": "atomic"},
        ),
        LIST_META: _object(
            "Metadata of a list: where it continues and at which version it was read.",
            {
                "continue": _s("Token for the next page, if more items exist."),
                "remainingItemCount": _i("Approximate number of items after this page."),
                "resourceVersion": _s("The version the list was read at; watch from here."),
                "selfLink": _s("Deprecated; never set."),
            },
        ),
        STATUS: _object(
            "The result of an operation that returns no object, or of a failure.",
            {
                "apiVersion": _API_VERSION,
                "code": _i("Suggested HTTP status code.", "int32"),
                "details": ref(META + "StatusDetails", "More about the reason."),
                "kind": _KIND,
                "message": _s("Human-readable description of the result."),
                "metadata": ref(LIST_META, "List metadata."),
                "reason": _s("Machine-readable reason, such as NotFound or Invalid."),
                "status": _s("Success or Failure."),
            },
        ),
        META + "StatusDetails": _object(
            "The object and the causes a Status is about.",
            {
                "causes": {
                    "type": "array",
                    "items": ref(META + "StatusCause"),
                    "description": "The individual problems, one per field.",
                    "x-kubernetes-list-type": "atomic",
                },
                "group": _s("Group of the resource."),
                "kind": _s("Kind of the resource."),
                "name": _s("Name of the resource."),
                "retryAfterSeconds": _i("Seconds to wait before retrying.", "int32"),
                "uid": _s("UID of the resource."),
            },
        ),
        META + "StatusCause": _object(
            "One problem with a request.",
            {
                "field": _s("The field at fault, as a path such as spec.replicas."),
                "message": _s("Human-readable description of the problem."),
                "reason": _s("Machine-readable reason, such as FieldValueInvalid."),
            },
        ),
        PATCH: {"type": "object", "description": "A patch document, in the request's patch type."},
        DELETE_OPTIONS: _object(
            "Options of a delete.",
            {
                "apiVersion": _API_VERSION,
                "dryRun": _strings("All: check the request without persisting it."),
                "gracePeriodSeconds": _i("Seconds before the object is deleted."),
                "kind": _KIND,
                "orphanDependents": _b("Deprecated: use propagationPolicy."),
                "preconditions": ref(META + "Preconditions", "Must hold for the delete."),
                "propagationPolicy": _s("Orphan, Background or Foreground."),
            },
        ),
        META + "Preconditions": _object(
            "Conditions the object must meet for an operation.",
            {
                "resourceVersion": _s("The object's expected resourceVersion."),
                "uid": _s("The object's expected UID."),
            },
        ),
    }
    if scale:
        schemas.update(_scale_schemas())
    return schemas


def _scale_schemas() -> dict[str, dict[str, Any]]:
    return {
        SCALE: _object(
            "The scale subresource: desired and observed replicas.",
            {
                "apiVersion": _API_VERSION,
                "kind": _KIND,
                "metadata": ref(OBJECT_META, "The scaled object's metadata."),
                "spec": ref(SCALE + "Spec", "The desired scale."),
                "status": ref(SCALE + "Status", "The observed scale; read-only."),
            },
            **{
                "x-kubernetes-group-version-kind": [
                    {"group": "autoscaling", "kind": "Scale", "version": "v1"}
                ]
            },
        ),
        SCALE + "Spec": _object(
            "The desired scale.", {"replicas": _i("Desired number of instances.", "int32")}
        ),
        SCALE + "Status": _object(
            "The observed scale.",
            {
                "replicas": _i("Observed number of instances.", "int32"),
                "selector": _s("Label selector of the pods, in string form."),
            },
            required=["replicas"],
        ),
    }

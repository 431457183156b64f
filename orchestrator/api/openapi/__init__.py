"""The structural OpenAPI v3 schemas of CustomResourceDefinitions.

A pure package (no I/O, no API server or store): what a CRD version's
``openAPIV3Schema`` means for the custom resources it describes, said the
way Kubernetes 1.31 says it.

- ``check_structural`` / ``format_warnings``: is a schema acceptable (§1.2),
  and which formats are unknown (§3.1);
- ``prune``: drop undeclared fields (§4), returning their paths;
- ``apply_defaults``: fill defaults, drop non-nullable nulls (§4);
- ``validate`` / ``blocks_cel``: every violation, in Kubernetes' words (§3.3).

The API server runs ``prune`` then ``apply_defaults`` on every decode and
read, and ``validate`` on every write.
"""

from orchestrator.api.openapi.defaulting import apply_defaults
from orchestrator.api.openapi.pruning import prune
from orchestrator.api.openapi.structural import check_structural, format_warnings
from orchestrator.api.openapi.validating import blocks_cel, validate

__all__ = [
    "apply_defaults",
    "blocks_cel",
    "check_structural",
    "format_warnings",
    "prune",
    "validate",
]

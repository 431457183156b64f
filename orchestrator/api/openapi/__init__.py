"""The structural OpenAPI v3 schemas of CustomResourceDefinitions.

A pure package (no I/O, no API server or store): what a CRD version's
``openAPIV3Schema`` means for the custom resources it describes, said the
way Kubernetes 1.31 says it.

- ``check_structural`` / ``format_warnings``: is a schema acceptable (§1.2),
  and which formats are unknown (§3.1);
- ``prune``: drop undeclared fields (§4), returning their paths;
- ``apply_defaults``: fill defaults, drop non-nullable nulls (§4);
- ``read_form``: both of those in one walk, for reads;
- ``plan_of``: a schema compiled once for all of these (``plan``);
- ``validate`` / ``blocks_cel``: every violation, in Kubernetes' words (§3.3).

The API server runs ``prune`` then ``apply_defaults`` on every decode,
``read_form`` on every read, and ``validate`` on every write, each with the
version's plan.
"""

from orchestrator.api.openapi.defaulting import apply_defaults
from orchestrator.api.openapi.plan import Node, plan_of
from orchestrator.api.openapi.pruning import prune
from orchestrator.api.openapi.reading import read_form
from orchestrator.api.openapi.structural import check_structural, format_warnings
from orchestrator.api.openapi.validating import blocks_cel, validate

__all__ = [
    "Node",
    "apply_defaults",
    "blocks_cel",
    "check_structural",
    "format_warnings",
    "plan_of",
    "prune",
    "read_form",
    "validate",
]

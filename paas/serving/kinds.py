"""The serving kinds, the kinds they become, and the label and annotation keys they share.

Service, Configuration, Revision and Route are CRDs (``crds/``, applied by
``paas up``); their ``ResourceType`` here only routes requests. HTTPRoute
belongs to the router (Gateway API): the serving controller writes it and
reads nothing else of it. Keys are Knative's own, so tools written for
Knative (``kn``, dashboards, label selectors) find what they expect.
"""

from __future__ import annotations

from orchestrator.api.resources import BUILTIN_TYPES, ResourceType

GROUP = "serving.knative.dev"
API_VERSION = f"{GROUP}/v1"


def _serving(kind: str, plural: str) -> ResourceType:
    return ResourceType(GROUP, "v1", kind, plural, namespaced=True, subresources=("status",))


SERVICES = _serving("Service", "services")
CONFIGURATIONS = _serving("Configuration", "configurations")
REVISIONS = _serving("Revision", "revisions")
ROUTES = _serving("Route", "routes")
HTTPROUTES = ResourceType(
    "gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes", namespaced=True
)
DEPLOYMENTS = BUILTIN_TYPES.require("apps", "Deployment")
K8S_SERVICES = BUILTIN_TYPES.require("", "Service")
PODS = BUILTIN_TYPES.require("", "Pod")

# Labels (pkg/apis/serving/register.go)
SERVICE_LABEL = f"{GROUP}/service"
SERVICE_UID_LABEL = f"{GROUP}/serviceUID"
CONFIGURATION_LABEL = f"{GROUP}/configuration"
CONFIGURATION_UID_LABEL = f"{GROUP}/configurationUID"
CONFIGURATION_GENERATION_LABEL = f"{GROUP}/configurationGeneration"
REVISION_LABEL = f"{GROUP}/revision"
REVISION_UID_LABEL = f"{GROUP}/revisionUID"
ROUTE_LABEL = f"{GROUP}/route"
ROUTING_STATE_LABEL = f"{GROUP}/routingState"

# Annotations
CREATOR_ANNOTATION = f"{GROUP}/creator"
UPDATER_ANNOTATION = f"{GROUP}/lastModifier"
ROUTES_ANNOTATION = f"{GROUP}/routes"
ROLLOUT_DURATION_ANNOTATION = f"{GROUP}/rollout-duration"
PROGRESS_DEADLINE_ANNOTATION = f"{GROUP}/progress-deadline"
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"

# The Gateway every HTTPRoute attaches to; the router implements it.
GATEWAY_NAMESPACE = "paas-system"
GATEWAY_NAME = "paas"

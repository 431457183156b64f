"""The known structure of each built-in kind, as ``schema`` nodes.

Field lists follow the Kubernetes 1.31 API types. Where a structure is large
and rarely typed by hand (affinity, securityContext, most volume sources,
every status) it is ``OBJECT``: kept and round-tripped, never looked into, so
a field we have not listed there can never be refused by ``Strict``.
Statuses are free-form for the same reason: controllers write them, and a
status we do not model must still round-trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from orchestrator.api.schema_types import (
    BOOLEAN,
    INT_OR_STRING,
    INTEGER,
    OBJECT,
    QUANTITY,
    STRING,
    KindSchema,
    ListOf,
    MapOf,
    Struct,
    extend,
    struct,
)

S, INT, B = STRING, INTEGER, BOOLEAN
TIME = STRING  # RFC 3339; kept as a string, not parsed here
STRINGS = ListOf(STRING)
STRING_MAP = MapOf(STRING)

OWNER_REFERENCE = struct(apiVersion=S, kind=S, name=S, uid=S, controller=B, blockOwnerDeletion=B)

OBJECT_META = struct(
    name=S,
    generateName=S,
    namespace=S,
    selfLink=S,
    uid=S,
    resourceVersion=S,
    generation=INT,
    creationTimestamp=TIME,
    deletionTimestamp=TIME,
    deletionGracePeriodSeconds=INT,
    labels=STRING_MAP,
    annotations=STRING_MAP,
    ownerReferences=ListOf(OWNER_REFERENCE),
    finalizers=STRINGS,
    managedFields=ListOf(OBJECT),
)

OBJECT_REFERENCE = struct(
    kind=S, namespace=S, name=S, uid=S, apiVersion=S, resourceVersion=S, fieldPath=S
)

LABEL_SELECTOR = struct(
    matchLabels=STRING_MAP,
    matchExpressions=ListOf(struct(key=S, operator=S, values=STRINGS)),
)

EXEC_ACTION = struct(command=STRINGS)
HTTP_GET_ACTION = struct(
    path=S, port=INT_OR_STRING, host=S, scheme=S, httpHeaders=ListOf(struct(name=S, value=S))
)
TCP_SOCKET_ACTION = struct(port=INT_OR_STRING, host=S)

PROBE = struct(
    exec=EXEC_ACTION,
    httpGet=HTTP_GET_ACTION,
    tcpSocket=TCP_SOCKET_ACTION,
    grpc=struct(port=INT, service=S),
    initialDelaySeconds=INT,
    timeoutSeconds=INT,
    periodSeconds=INT,
    successThreshold=INT,
    failureThreshold=INT,
    terminationGracePeriodSeconds=INT,
)

LIFECYCLE_HANDLER = struct(
    exec=EXEC_ACTION,
    httpGet=HTTP_GET_ACTION,
    tcpSocket=TCP_SOCKET_ACTION,
    sleep=struct(seconds=INT),
)

KEY_SELECTOR = struct(name=S, key=S, optional=B)

ENV_VAR = struct(
    name=S,
    value=S,
    valueFrom=struct(
        fieldRef=struct(apiVersion=S, fieldPath=S),
        resourceFieldRef=struct(containerName=S, resource=S, divisor=QUANTITY),
        configMapKeyRef=KEY_SELECTOR,
        secretKeyRef=KEY_SELECTOR,
    ),
)

ENV_FROM = struct(
    prefix=S, configMapRef=struct(name=S, optional=B), secretRef=struct(name=S, optional=B)
)

RESOURCE_REQUIREMENTS = struct(
    limits=MapOf(QUANTITY), requests=MapOf(QUANTITY), claims=ListOf(OBJECT)
)

CONTAINER = struct(
    name=S,
    image=S,
    command=STRINGS,
    args=STRINGS,
    workingDir=S,
    ports=ListOf(struct(name=S, containerPort=INT, protocol=S, hostPort=INT, hostIP=S)),
    env=ListOf(ENV_VAR),
    envFrom=ListOf(ENV_FROM),
    resources=RESOURCE_REQUIREMENTS,
    resizePolicy=ListOf(struct(resourceName=S, restartPolicy=S)),
    restartPolicy=S,
    volumeMounts=ListOf(
        struct(
            name=S,
            mountPath=S,
            subPath=S,
            subPathExpr=S,
            readOnly=B,
            mountPropagation=S,
            recursiveReadOnly=S,
        )
    ),
    volumeDevices=ListOf(struct(name=S, devicePath=S)),
    livenessProbe=PROBE,
    readinessProbe=PROBE,
    startupProbe=PROBE,
    lifecycle=struct(postStart=LIFECYCLE_HANDLER, preStop=LIFECYCLE_HANDLER, stopSignal=S),
    terminationMessagePath=S,
    terminationMessagePolicy=S,
    imagePullPolicy=S,
    securityContext=OBJECT,
    stdin=B,
    stdinOnce=B,
    tty=B,
)

KEY_TO_PATH = struct(key=S, path=S, mode=INT)

# Sources with a real structure here; every other Kubernetes source is free-form.
VOLUME_SOURCES: Mapping[str, Struct | str] = MappingProxyType(
    {
        "emptyDir": struct(medium=S, sizeLimit=QUANTITY),
        "configMap": struct(name=S, items=ListOf(KEY_TO_PATH), defaultMode=INT, optional=B),
        "secret": struct(secretName=S, items=ListOf(KEY_TO_PATH), defaultMode=INT, optional=B),
        "hostPath": struct(path=S, type=S),
        "persistentVolumeClaim": struct(claimName=S, readOnly=B),
        "projected": OBJECT,
        "downwardAPI": OBJECT,
        **{
            name: OBJECT
            for name in (
                "awsElasticBlockStore azureDisk azureFile cephfs cinder csi ephemeral fc "
                "flexVolume flocker gcePersistentDisk gitRepo glusterfs image iscsi nfs "
                "photonPersistentDisk portworxVolume quobyte rbd scaleIO storageos "
                "vsphereVolume"
            ).split()
        },
    }
)

VOLUME = struct(name=S, **VOLUME_SOURCES)

POD_SPEC = struct(
    containers=ListOf(CONTAINER),
    initContainers=ListOf(CONTAINER),
    ephemeralContainers=ListOf(OBJECT),
    volumes=ListOf(VOLUME),
    nodeSelector=STRING_MAP,
    affinity=OBJECT,
    tolerations=ListOf(struct(key=S, operator=S, value=S, effect=S, tolerationSeconds=INT)),
    restartPolicy=S,
    terminationGracePeriodSeconds=INT,
    activeDeadlineSeconds=INT,
    hostname=S,
    subdomain=S,
    serviceAccountName=S,
    serviceAccount=S,
    automountServiceAccountToken=B,
    nodeName=S,
    hostNetwork=B,
    hostPID=B,
    hostIPC=B,
    hostUsers=B,
    shareProcessNamespace=B,
    dnsPolicy=S,
    dnsConfig=struct(
        nameservers=STRINGS, searches=STRINGS, options=ListOf(struct(name=S, value=S))
    ),
    securityContext=OBJECT,
    imagePullSecrets=ListOf(struct(name=S)),
    schedulerName=S,
    priority=INT,
    priorityClassName=S,
    preemptionPolicy=S,
    hostAliases=ListOf(struct(ip=S, hostnames=STRINGS)),
    readinessGates=ListOf(struct(conditionType=S)),
    runtimeClassName=S,
    enableServiceLinks=B,
    overhead=MapOf(QUANTITY),
    topologySpreadConstraints=ListOf(OBJECT),
    setHostnameAsFQDN=B,
    os=struct(name=S),
    schedulingGates=ListOf(struct(name=S)),
    resourceClaims=ListOf(OBJECT),
    resources=RESOURCE_REQUIREMENTS,
)

POD_TEMPLATE = struct(metadata=OBJECT_META, spec=POD_SPEC)

JOB_SPEC = struct(
    parallelism=INT,
    completions=INT,
    activeDeadlineSeconds=INT,
    podFailurePolicy=OBJECT,
    successPolicy=OBJECT,
    backoffLimit=INT,
    backoffLimitPerIndex=INT,
    maxFailedIndexes=INT,
    selector=LABEL_SELECTOR,
    manualSelector=B,
    template=POD_TEMPLATE,
    ttlSecondsAfterFinished=INT,
    completionMode=S,
    suspend=B,
    podReplacementPolicy=S,
    managedBy=S,
)

SERVICE_SPEC = struct(
    ports=ListOf(
        struct(name=S, protocol=S, appProtocol=S, port=INT, targetPort=INT_OR_STRING, nodePort=INT)
    ),
    selector=STRING_MAP,
    clusterIP=S,
    clusterIPs=STRINGS,
    type=S,
    externalIPs=STRINGS,
    sessionAffinity=S,
    sessionAffinityConfig=OBJECT,
    loadBalancerIP=S,
    loadBalancerSourceRanges=STRINGS,
    loadBalancerClass=S,
    allocateLoadBalancerNodePorts=B,
    externalName=S,
    externalTrafficPolicy=S,
    internalTrafficPolicy=S,
    healthCheckNodePort=INT,
    publishNotReadyAddresses=B,
    ipFamilies=STRINGS,
    ipFamilyPolicy=S,
    trafficDistribution=S,
)

ENDPOINT_ADDRESS = struct(ip=S, hostname=S, nodeName=S, targetRef=OBJECT_REFERENCE)

ENDPOINT_SUBSET = struct(
    addresses=ListOf(ENDPOINT_ADDRESS),
    notReadyAddresses=ListOf(ENDPOINT_ADDRESS),
    ports=ListOf(struct(name=S, port=INT, protocol=S, appProtocol=S)),
)

NODE_SPEC = struct(
    podCIDR=S,
    podCIDRs=STRINGS,
    providerID=S,
    unschedulable=B,
    taints=ListOf(struct(key=S, value=S, effect=S, timeAdded=TIME)),
    configSource=OBJECT,
    externalID=S,
)

PVC_SPEC = struct(
    accessModes=STRINGS,
    selector=LABEL_SELECTOR,
    resources=struct(limits=MapOf(QUANTITY), requests=MapOf(QUANTITY)),
    volumeName=S,
    storageClassName=S,
    volumeMode=S,
    dataSource=OBJECT,
    dataSourceRef=OBJECT,
    volumeAttributesClassName=S,
)

LEASE_SPEC = struct(
    holderIdentity=S,
    leaseDurationSeconds=INT,
    acquireTime=TIME,
    renewTime=TIME,
    leaseTransitions=INT,
    strategy=S,
    preferredHolder=S,
)

INGRESS_BACKEND = struct(
    service=struct(name=S, port=struct(name=S, number=INT)),
    resource=struct(apiGroup=S, kind=S, name=S),
)
INGRESS_SPEC = struct(
    ingressClassName=S,
    defaultBackend=INGRESS_BACKEND,
    tls=ListOf(struct(hosts=STRINGS, secretName=S)),
    rules=ListOf(
        struct(
            host=S,
            http=struct(paths=ListOf(struct(path=S, pathType=S, backend=INGRESS_BACKEND))),
        )
    ),
)
INGRESS_CLASS_SPEC = struct(
    controller=S,
    parameters=struct(apiGroup=S, kind=S, name=S, scope=S, namespace=S),
)

TOP = struct(apiVersion=S, kind=S, metadata=OBJECT_META)

POLICY_RULES = ListOf(
    struct(
        verbs=STRINGS,
        apiGroups=STRINGS,
        resources=STRINGS,
        resourceNames=STRINGS,
        nonResourceURLs=STRINGS,
    )
)
RBAC_BINDING = extend(
    TOP,
    subjects=ListOf(struct(kind=S, apiGroup=S, name=S, namespace=S)),
    roleRef=struct(apiGroup=S, kind=S, name=S),
)
GENERIC = Struct(TOP.fields, open=True)


def _with_spec(spec: Struct) -> Struct:
    return extend(TOP, spec=spec, status=OBJECT)


_SCHEMAS = (
    KindSchema("", "Namespace", _with_spec(struct(finalizers=STRINGS))),
    KindSchema("", "Pod", _with_spec(POD_SPEC)),
    KindSchema("", "Service", _with_spec(SERVICE_SPEC)),
    KindSchema("", "Endpoints", extend(TOP, subsets=ListOf(ENDPOINT_SUBSET))),
    KindSchema("", "ConfigMap", extend(TOP, data=STRING_MAP, binaryData=STRING_MAP, immutable=B)),
    KindSchema(
        "",
        "Secret",
        extend(TOP, data=STRING_MAP, stringData=STRING_MAP, type=S, immutable=B),
    ),
    KindSchema(
        "",
        "ServiceAccount",
        extend(
            TOP,
            secrets=ListOf(OBJECT_REFERENCE),
            imagePullSecrets=ListOf(struct(name=S)),
            automountServiceAccountToken=B,
        ),
    ),
    KindSchema("", "Node", _with_spec(NODE_SPEC)),
    KindSchema(
        "",
        "Event",
        extend(
            TOP,
            involvedObject=OBJECT_REFERENCE,
            reason=S,
            message=S,
            source=struct(component=S, host=S),
            firstTimestamp=TIME,
            lastTimestamp=TIME,
            count=INT,
            type=S,
            eventTime=TIME,
            series=struct(count=INT, lastObservedTime=TIME),
            action=S,
            related=OBJECT_REFERENCE,
            reportingComponent=S,
            reportingInstance=S,
        ),
    ),
    KindSchema("", "PersistentVolumeClaim", _with_spec(PVC_SPEC)),
    KindSchema(
        "apps",
        "Deployment",
        _with_spec(
            struct(
                replicas=INT,
                selector=LABEL_SELECTOR,
                template=POD_TEMPLATE,
                strategy=struct(
                    type=S,
                    rollingUpdate=struct(maxSurge=INT_OR_STRING, maxUnavailable=INT_OR_STRING),
                ),
                minReadySeconds=INT,
                revisionHistoryLimit=INT,
                paused=B,
                progressDeadlineSeconds=INT,
            )
        ),
    ),
    KindSchema(
        "apps",
        "ReplicaSet",
        _with_spec(
            struct(
                replicas=INT, minReadySeconds=INT, selector=LABEL_SELECTOR, template=POD_TEMPLATE
            )
        ),
    ),
    KindSchema("batch", "Job", _with_spec(JOB_SPEC)),
    KindSchema(
        "batch",
        "CronJob",
        _with_spec(
            struct(
                schedule=S,
                timeZone=S,
                startingDeadlineSeconds=INT,
                concurrencyPolicy=S,
                suspend=B,
                jobTemplate=struct(metadata=OBJECT_META, spec=JOB_SPEC),
                successfulJobsHistoryLimit=INT,
                failedJobsHistoryLimit=INT,
            )
        ),
    ),
    KindSchema("coordination.k8s.io", "Lease", extend(TOP, spec=LEASE_SPEC)),
    KindSchema("networking.k8s.io", "Ingress", _with_spec(INGRESS_SPEC)),
    KindSchema("networking.k8s.io", "IngressClass", extend(TOP, spec=INGRESS_CLASS_SPEC)),
    KindSchema("rbac.authorization.k8s.io", "Role", extend(TOP, rules=POLICY_RULES)),
    KindSchema(
        "rbac.authorization.k8s.io",
        "ClusterRole",
        extend(
            TOP,
            rules=POLICY_RULES,
            aggregationRule=struct(clusterRoleSelectors=ListOf(LABEL_SELECTOR)),
        ),
    ),
    KindSchema("rbac.authorization.k8s.io", "RoleBinding", RBAC_BINDING),
    KindSchema("rbac.authorization.k8s.io", "ClusterRoleBinding", RBAC_BINDING),
)

KINDS: Mapping[str, KindSchema] = MappingProxyType({s.kind: s for s in _SCHEMAS})

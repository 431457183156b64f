"""A realistic, fully populated object of every built-in kind, as JSON dicts.

Written the way the API server stores them (defaults applied, statuses as
controllers write them), without zero values in non-pointer fields, which
protobuf cannot tell from "unset" (see orchestrator/api/protobuf/notation.py).
"""

from __future__ import annotations

from typing import Any

T = "2026-12-07T10:00:00Z"
T2 = "2026-12-07T10:05:30Z"
MICRO = "2026-12-07T10:00:00.123456Z"


def meta(name: str, namespace: str | None = "default", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "uid": "5f0c3a8e-0d1b-4c6e-9a57-6f1e2d3c4b5a",
        "resourceVersion": "4711",
        "generation": 3,
        "creationTimestamp": T,
        "labels": {"app": name, "tier": "web"},
        "annotations": {"note": "hello", "empty": ""},
        "managedFields": [
            {
                "manager": "kubectl-client-side-apply",
                "operation": "Update",
                "apiVersion": "v1",
                "time": T,
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}},
            }
        ],
    }
    if namespace:
        out["namespace"] = namespace
    out.update(extra)
    return out


OWNER = {
    "apiVersion": "apps/v1",
    "kind": "ReplicaSet",
    "name": "web-7d4b9c",
    "uid": "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
    "controller": True,
    "blockOwnerDeletion": True,
}

CONTAINER = {
    "name": "web",
    "image": "paas/stack:bookworm",
    "command": ["python3", "-m", "http.server"],
    "args": ["$(PORT)"],
    "workingDir": "/app",
    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
    "env": [
        {"name": "PORT", "value": "8080"},
        {
            "name": "POD_NAME",
            "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}},
        },
        {
            "name": "PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "db", "key": "password", "optional": False}},
        },
    ],
    "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}],
    "resources": {
        "limits": {"cpu": "500m", "memory": "256Mi"},
        "requests": {"cpu": "100m", "memory": "64Mi"},
    },
    "volumeMounts": [
        {"name": "data", "mountPath": "/data"},
        {"name": "config", "mountPath": "/etc/app", "readOnly": True},
    ],
    "livenessProbe": {
        "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
        "initialDelaySeconds": 5,
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    },
    "readinessProbe": {
        "tcpSocket": {"port": 8080},
        "periodSeconds": 2,
        "timeoutSeconds": 1,
        "successThreshold": 1,
        "failureThreshold": 3,
    },
    "lifecycle": {"preStop": {"exec": {"command": ["sleep", "1"]}}},
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
    "imagePullPolicy": "IfNotPresent",
    "securityContext": {"runAsUser": 0, "runAsNonRoot": False, "allowPrivilegeEscalation": False},
    "stdin": True,
    "tty": True,
}

POD_SPEC = {
    "volumes": [
        {"name": "data", "emptyDir": {}},
        {"name": "config", "configMap": {"name": "settings", "defaultMode": 420}},
        {
            "name": "token",
            "projected": {
                "sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}],
                "defaultMode": 420,
            },
        },
    ],
    "initContainers": [{"name": "init", "image": "busybox", "command": ["true"]}],
    "containers": [CONTAINER],
    "restartPolicy": "Always",
    "terminationGracePeriodSeconds": 30,
    "activeDeadlineSeconds": 0,
    "dnsPolicy": "ClusterFirst",
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "serviceAccountName": "default",
    "automountServiceAccountToken": False,
    "nodeName": "node-1",
    "securityContext": {"fsGroup": 2000},
    "hostname": "web-0",
    "subdomain": "web",
    "affinity": {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "labelSelector": {
                            "matchExpressions": [
                                {"key": "app", "operator": "In", "values": ["web"]}
                            ]
                        },
                        "topologyKey": "kubernetes.io/hostname",
                    },
                }
            ]
        }
    },
    "schedulerName": "default-scheduler",
    "tolerations": [
        {
            "key": "node.kubernetes.io/not-ready",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        }
    ],
    "priority": 0,
    "enableServiceLinks": True,
}

POD_STATUS = {
    "phase": "Running",
    "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": T2}],
    "hostIP": "10.0.0.5",
    "hostIPs": [{"ip": "10.0.0.5"}],
    "podIP": "10.244.1.7",
    "podIPs": [{"ip": "10.244.1.7"}],
    "startTime": T,
    "containerStatuses": [
        {
            "name": "web",
            "state": {"running": {"startedAt": T2}},
            "lastState": {
                "terminated": {
                    "exitCode": 137,
                    "reason": "OOMKilled",
                    "startedAt": T,
                    "finishedAt": T2,
                    "containerID": "docker://abc",
                }
            },
            "ready": True,
            "restartCount": 2,
            "image": "paas/stack:bookworm",
            "imageID": "sha256:0123",
            "containerID": "docker://def",
            "started": True,
        }
    ],
    "qosClass": "Burstable",
}

TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": POD_SPEC}

SCHEMA = {
    "type": "object",
    "description": "An app",
    "required": ["spec"],
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "replicas": {"type": "integer", "minimum": 0, "maximum": 100, "default": 1},
                "ratio": {"type": "number", "multipleOf": 0.5},
                "mode": {"type": "string", "enum": ["a", "b"], "pattern": "^[ab]$"},
                "tags": {
                    "type": "array",
                    "items": {"type": "string", "maxLength": 63},
                    "x-kubernetes-list-type": "set",
                },
                "ports": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                        "required": ["name"],
                    },
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                },
                "env": {"type": "object", "additionalProperties": {"type": "string"}},
                "port": {"x-kubernetes-int-or-string": True},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "closed": {"type": "object", "additionalProperties": False},
            },
            "x-kubernetes-validations": [{"rule": "self.replicas <= 100", "message": "too many"}],
        },
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
}


def _status_sub(name: str) -> dict[str, Any]:
    return {"kind": "Status", "name": name}


SAMPLES: dict[str, dict[str, Any]] = {
    "Namespace": {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": meta("team-a", None, finalizers=["example.com/hold"]),
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    },
    "Pod": {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta(
            "web-7d4b9c-xk2lp",
            generateName="web-7d4b9c-",
            ownerReferences=[OWNER],
            deletionTimestamp=T2,
            deletionGracePeriodSeconds=30,
        ),
        "spec": POD_SPEC,
        "status": POD_STATUS,
    },
    "Service": {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta("web"),
        "spec": {
            "ports": [
                {"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http"},
                {
                    "name": "admin",
                    "protocol": "TCP",
                    "port": 81,
                    "targetPort": 9000,
                    "nodePort": 30081,
                },
            ],
            "selector": {"app": "web"},
            "clusterIP": "10.96.0.12",
            "clusterIPs": ["10.96.0.12"],
            "type": "NodePort",
            "sessionAffinity": "None",
            "externalTrafficPolicy": "Cluster",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}},
    },
    "Endpoints": {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": meta("web"),
        "subsets": [
            {
                "addresses": [
                    {
                        "ip": "10.244.1.7",
                        "nodeName": "node-1",
                        "targetRef": {
                            "kind": "Pod",
                            "namespace": "default",
                            "name": "web-1",
                            "uid": "u1",
                        },
                    }
                ],
                "notReadyAddresses": [{"ip": "10.244.1.8"}],
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            }
        ],
    },
    "ConfigMap": {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta("settings"),
        "data": {"a": "b", "empty": "", "unicode": "grüße ✓", "multi": "line1\nline2\n"},
        "binaryData": {"blob": "AAECA/8="},
        "immutable": False,
    },
    "Secret": {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta("db"),
        "data": {"password": "czNjcjN0", "empty": "", "binary": "AP8Q"},
        "type": "Opaque",
        "immutable": True,
    },
    "ServiceAccount": {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta("builder"),
        "secrets": [{"name": "builder-token"}],
        "imagePullSecrets": [{"name": "regcred"}],
        "automountServiceAccountToken": False,
    },
    "TokenRequest": {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "metadata": meta("builder"),
        "spec": {
            "audiences": ["https://kubernetes.default.svc.cluster.local"],
            "expirationSeconds": 3607,
            "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": "u"},
        },
        "status": {"token": "a.b.c", "expirationTimestamp": T},
    },
    "Node": {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": meta("node-1", None),
        "spec": {
            "podCIDR": "10.244.1.0/24",
            "podCIDRs": ["10.244.1.0/24"],
            "taints": [{"key": "example.com/dedicated", "value": "db", "effect": "NoSchedule"}],
            "unschedulable": True,
        },
        "status": {
            "capacity": {"cpu": "2", "memory": "4016Mi", "pods": "110"},
            "allocatable": {"cpu": "1900m", "memory": "3Gi", "pods": "110"},
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "lastHeartbeatTime": T2,
                    "lastTransitionTime": T,
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                }
            ],
            "addresses": [
                {"type": "InternalIP", "address": "10.0.0.5"},
                {"type": "Hostname", "address": "node-1"},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": "m",
                "systemUUID": "s",
                "bootID": "b",
                "kernelVersion": "6.1.0",
                "osImage": "Debian GNU/Linux 12",
                "containerRuntimeVersion": "process://1",
                "kubeletVersion": "v1.31.0",
                "kubeProxyVersion": "v1.31.0",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
            "images": [{"names": ["paas/stack:bookworm"], "sizeBytes": 123456789012}],
        },
    },
    "Event": {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": meta("web-1.17f0"),
        "involvedObject": {
            "kind": "Pod",
            "namespace": "default",
            "name": "web-1",
            "uid": "u1",
            "apiVersion": "v1",
            "resourceVersion": "42",
            "fieldPath": "spec.containers{web}",
        },
        "reason": "Started",
        "message": "Started container web",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": T,
        "lastTimestamp": T2,
        "count": 3,
        "type": "Normal",
        "eventTime": MICRO,
        "series": {"count": 2, "lastObservedTime": MICRO},
        "action": "Start",
        "reportingComponent": "kubelet",
        "reportingInstance": "node-1",
    },
    "PersistentVolumeClaim": {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta("data"),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            "storageClassName": "",
            "volumeMode": "Filesystem",
            "selector": {"matchLabels": {"disk": "ssd"}},
        },
        "status": {
            "phase": "Bound",
            "accessModes": ["ReadWriteOnce"],
            "capacity": {"storage": "1Gi"},
        },
    },
    "Deployment": {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta("web"),
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "web"}},
            "template": TEMPLATE,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"},
            },
            "minReadySeconds": 5,
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
        "status": {
            "observedGeneration": 3,
            "replicas": 2,
            "updatedReplicas": 2,
            "readyReplicas": 1,
            "availableReplicas": 1,
            "unavailableReplicas": 1,
            "conditions": [
                {
                    "type": "Available",
                    "status": "False",
                    "lastUpdateTime": T2,
                    "lastTransitionTime": T,
                    "reason": "MinimumReplicasUnavailable",
                    "message": "Deployment does not have minimum availability.",
                }
            ],
            "collisionCount": 0,
        },
    },
    "ReplicaSet": {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": meta("web-7d4b9c", ownerReferences=[{**OWNER, "kind": "Deployment"}]),
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web", "pod-template-hash": "7d4b9c"}},
            "template": TEMPLATE,
        },
        "status": {
            "replicas": 2,
            "fullyLabeledReplicas": 2,
            "readyReplicas": 2,
            "availableReplicas": 2,
            "observedGeneration": 3,
        },
    },
    "Job": {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta("migrate"),
        "spec": {
            "parallelism": 1,
            "completions": 1,
            "backoffLimit": 0,
            "completionMode": "NonIndexed",
            "suspend": False,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}},
            "manualSelector": False,
            "template": {**TEMPLATE, "spec": {**POD_SPEC, "restartPolicy": "Never"}},
            "ttlSecondsAfterFinished": 100,
        },
        "status": {
            "conditions": [
                {
                    "type": "Complete",
                    "status": "True",
                    "lastProbeTime": T2,
                    "lastTransitionTime": T2,
                }
            ],
            "startTime": T,
            "completionTime": T2,
            "succeeded": 1,
            "ready": 0,
            "terminating": 0,
            "uncountedTerminatedPods": {},
        },
    },
    "HorizontalPodAutoscaler": {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta("web"),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 4,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 50},
                    },
                },
                {
                    "type": "Resource",
                    "resource": {
                        "name": "memory",
                        "target": {"type": "AverageValue", "averageValue": "100Mi"},
                    },
                },
            ],
            "behavior": {
                "scaleUp": {
                    "stabilizationWindowSeconds": 0,
                    "selectPolicy": "Max",
                    "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}],
                },
                "scaleDown": {
                    "stabilizationWindowSeconds": 300,
                    "selectPolicy": "Max",
                    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
                },
            },
        },
        "status": {
            "observedGeneration": 1,
            "lastScaleTime": "2026-01-01T00:00:00Z",
            "currentReplicas": 2,
            "desiredReplicas": 3,
            "currentMetrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "current": {"averageUtilization": 75, "averageValue": "75m"},
                    },
                }
            ],
            "conditions": [
                {
                    "type": "AbleToScale",
                    "status": "True",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                    "reason": "SucceededRescale",
                    "message": "the HPA controller was able to update the target scale to 3",
                }
            ],
        },
    },
    "CronJob": {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": meta("nightly"),
        "spec": {
            "schedule": "0 3 * * *",
            "timeZone": "Etc/UTC",
            "startingDeadlineSeconds": 200,
            "concurrencyPolicy": "Forbid",
            "suspend": False,
            "jobTemplate": {
                "metadata": {"labels": {"job": "nightly"}},
                "spec": {
                    "backoffLimit": 6,
                    "template": {**TEMPLATE, "spec": {**POD_SPEC, "restartPolicy": "OnFailure"}},
                },
            },
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
        },
        "status": {
            "active": [
                {
                    "kind": "Job",
                    "namespace": "default",
                    "name": "nightly-1",
                    "uid": "u",
                    "apiVersion": "batch/v1",
                    "resourceVersion": "9",
                }
            ],
            "lastScheduleTime": T,
            "lastSuccessfulTime": T2,
        },
    },
    "Lease": {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": meta("kube-scheduler", "kube-system"),
        "spec": {
            "holderIdentity": "scheduler-1_abc",
            "leaseDurationSeconds": 15,
            "acquireTime": MICRO,
            "renewTime": "2026-12-07T10:00:10.000001Z",
            "leaseTransitions": 0,
        },
    },
    "TokenReview": {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "metadata": {"creationTimestamp": T},
        "spec": {"token": "abc.def", "audiences": ["https://kubernetes.default.svc"]},
        "status": {
            "authenticated": True,
            "user": {
                "username": "system:serviceaccount:default:builder",
                "uid": "u",
                "groups": ["system:serviceaccounts", "system:authenticated"],
                "extra": {"scopes": ["a", "b"], "none": []},
            },
            "audiences": ["https://kubernetes.default.svc"],
        },
    },
    "Ingress": {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": meta("web"),
        "spec": {
            "ingressClassName": "paas",
            "defaultBackend": {"service": {"name": "web", "port": {"number": 80}}},
            "tls": [{"hosts": ["web.localhost"], "secretName": "tls"}],
            "rules": [
                {
                    "host": "web.localhost",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "web", "port": {"name": "http"}}},
                            }
                        ]
                    },
                }
            ],
        },
        "status": {
            "loadBalancer": {
                "ingress": [
                    {"hostname": "router.localhost", "ports": [{"port": 80, "protocol": "TCP"}]}
                ]
            }
        },
    },
    "IngressClass": {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": meta("paas", None),
        "spec": {
            "controller": "paas.dev/router",
            "parameters": {
                "apiGroup": "paas.dev",
                "kind": "RouterConfig",
                "name": "default",
                "scope": "Cluster",
            },
        },
    },
    "CustomResourceDefinition": {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": meta("apps.paas.dev", None),
        "spec": {
            "group": "paas.dev",
            "names": {
                "plural": "apps",
                "singular": "app",
                "kind": "App",
                "listKind": "AppList",
                "shortNames": ["ap"],
                "categories": ["all"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": SCHEMA},
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                        },
                    },
                    "additionalPrinterColumns": [
                        {
                            "name": "Ready",
                            "type": "string",
                            "jsonPath": ".status.ready",
                            "priority": 1,
                        }
                    ],
                },
                {
                    "name": "v1beta1",
                    "served": False,
                    "storage": False,
                    "deprecated": True,
                    "deprecationWarning": "use v1",
                },
            ],
            "conversion": {"strategy": "None"},
        },
        "status": {
            "conditions": [
                {
                    "type": "Established",
                    "status": "True",
                    "lastTransitionTime": T,
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                }
            ],
            "acceptedNames": {
                "plural": "apps",
                "singular": "app",
                "kind": "App",
                "listKind": "AppList",
            },
            "storedVersions": ["v1"],
        },
    },
    "MutatingWebhookConfiguration": {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": meta("serving", None),
        "webhooks": [
            {
                "name": "defaulting.serving.knative.dev",
                "clientConfig": {
                    "service": {
                        "namespace": "paas-system",
                        "name": "webhook",
                        "path": "/defaulting",
                        "port": 443,
                    },
                    "caBundle": "LS0tLS1CRUdJTi0tLS0t",
                },
                "rules": [
                    {
                        "operations": ["CREATE", "UPDATE"],
                        "apiGroups": ["serving.knative.dev"],
                        "apiVersions": ["v1"],
                        "resources": ["services", "services/status"],
                        "scope": "*",
                    }
                ],
                "failurePolicy": "Fail",
                "matchPolicy": "Equivalent",
                "namespaceSelector": {},
                "objectSelector": {"matchLabels": {"managed": "yes"}},
                "sideEffects": "None",
                "timeoutSeconds": 10,
                "admissionReviewVersions": ["v1"],
                "reinvocationPolicy": "Never",
            }
        ],
    },
    "ValidatingWebhookConfiguration": {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": meta("serving", None),
        "webhooks": [
            {
                "name": "validation.serving.knative.dev",
                "clientConfig": {"url": "https://127.0.0.1:8443/validate"},
                "rules": [
                    {
                        "operations": ["*"],
                        "apiGroups": ["*"],
                        "apiVersions": ["*"],
                        "resources": ["*"],
                    }
                ],
                "failurePolicy": "Ignore",
                "sideEffects": "NoneOnDryRun",
                "timeoutSeconds": 5,
                "admissionReviewVersions": ["v1", "v1beta1"],
                "matchConditions": [{"name": "not-system", "expression": "true"}],
            }
        ],
    },
    # What rides with them.
    "Status": {
        "apiVersion": "v1",
        "kind": "Status",
        "metadata": {"resourceVersion": "12"},
        "status": "Failure",
        "message": 'Pod "web" is invalid: spec.containers[0].image: Required value',
        "reason": "Invalid",
        "details": {
            "name": "web",
            "kind": "Pod",
            "causes": [
                {
                    "reason": "FieldValueRequired",
                    "message": "Required value",
                    "field": "spec.containers[0].image",
                }
            ],
            "retryAfterSeconds": 1,
        },
        "code": 422,
    },
    "DeleteOptions": {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "gracePeriodSeconds": 0,
        "preconditions": {"uid": "u", "resourceVersion": "7"},
        "propagationPolicy": "Foreground",
        "dryRun": ["All"],
    },
    "Binding": {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "web-1", "namespace": "default"},
        "target": {"kind": "Node", "name": "node-1", "apiVersion": "v1"},
    },
    "Scale": {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": meta("web"),
        "spec": {"replicas": 5},
        "status": {"replicas": 3, "selector": "app=web"},
    },
    "ConfigMapList": {
        "apiVersion": "v1",
        "kind": "ConfigMapList",
        "metadata": {"resourceVersion": "99", "continue": "abc", "remainingItemCount": 0},
        "items": [
            {"metadata": {"name": "a", "namespace": "default"}, "data": {"k": "v"}},
            {"metadata": {"name": "b", "namespace": "default"}},
        ],
    },
    "SelfSubjectReview": {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "SelfSubjectReview",
        "metadata": {"creationTimestamp": T},
        "status": {
            "userInfo": {
                "username": "alice",
                "uid": "u-1",
                "groups": ["team-a", "system:authenticated"],
                "extra": {"scopes": ["a"]},
            }
        },
    },
    "SubjectAccessReview": {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "metadata": {"creationTimestamp": T},
        "spec": {
            "resourceAttributes": {
                "namespace": "dev",
                "verb": "get",
                "group": "apps",
                "version": "v1",
                "resource": "deployments",
                "subresource": "scale",
                "name": "web",
            },
            "user": "alice",
            "groups": ["team-a"],
            "extra": {"scopes": ["a", "b"]},
            "uid": "u-1",
        },
        "status": {"allowed": True, "reason": 'RBAC: allowed by RoleBinding "edit/dev"'},
    },
    "LocalSubjectAccessReview": {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "LocalSubjectAccessReview",
        "metadata": {"namespace": "dev", "creationTimestamp": T},
        "spec": {
            "resourceAttributes": {"namespace": "dev", "verb": "list", "resource": "secrets"},
            "user": "bob",
        },
        "status": {"allowed": False, "denied": True, "evaluationError": "none"},
    },
    "SelfSubjectAccessReview": {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "metadata": {"creationTimestamp": T},
        "spec": {"nonResourceAttributes": {"path": "/metrics", "verb": "get"}},
        "status": {"allowed": False},
    },
    "SelfSubjectRulesReview": {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectRulesReview",
        "metadata": {"creationTimestamp": T},
        "spec": {"namespace": "dev"},
        "status": {
            "resourceRules": [
                {
                    "verbs": ["get", "list"],
                    "apiGroups": [""],
                    "resources": ["pods", "pods/log"],
                    "resourceNames": ["web"],
                }
            ],
            "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz", "/api/*"]}],
            "incomplete": False,
        },
    },
    "Role": {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": meta("pod-reader"),
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["pods", "pods/log"],
                "verbs": ["get", "list", "watch"],
                "resourceNames": ["web"],
            }
        ],
    },
    "ClusterRole": {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": meta("monitoring", None),
        "rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}],
        "aggregationRule": {
            "clusterRoleSelectors": [
                {
                    "matchLabels": {"rbac.example.com/aggregate-to-monitoring": "true"},
                    "matchExpressions": [
                        {"key": "tier", "operator": "In", "values": ["web", "db"]}
                    ],
                }
            ]
        },
    },
    "RoleBinding": {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": meta("read-pods"),
        "subjects": [
            {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
            {"kind": "ServiceAccount", "name": "builder", "namespace": "default"},
        ],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
    },
    "ClusterRoleBinding": {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": meta("admins", None),
        "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "ops"}],
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "cluster-admin",
        },
    },
}

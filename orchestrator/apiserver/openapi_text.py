"""Descriptions ``kubectl explain`` shows for the built-in kinds, in our own words.

Keyed by kind, and by field name wherever the field means the same thing in
every kind that has it (``replicas``, ``image``, ``selector``...). A field not
listed is still explained by its type; add a line here when people look one
up and find nothing.
"""

from __future__ import annotations

from types import MappingProxyType

KIND_TEXT = MappingProxyType(
    {
        "Namespace": "A Namespace gives names a scope: objects in different namespaces may share "
        "a name.",
        "Pod": "A Pod is one or more containers that run together on one node, sharing its "
        "network and volumes.",
        "Service": "A Service gives a set of pods, chosen by a label selector, one stable "
        "address and port.",
        "Endpoints": "Endpoints lists the ready and not-ready addresses behind a Service.",
        "ConfigMap": "A ConfigMap holds configuration as keys and values for pods to consume.",
        "Secret": "A Secret holds sensitive data, such as passwords and tokens, as base64 values.",
        "Node": "A Node is a machine that runs pods; its agent reports its capacity and health.",
        "Event": "An Event reports something that happened to an object.",
        "PersistentVolumeClaim": "A PersistentVolumeClaim asks for storage of a size and "
        "access mode.",
        "Deployment": "A Deployment keeps a number of identical pods running from a template "
        "and rolls out changes to the template gradually.",
        "ReplicaSet": "A ReplicaSet keeps a number of pods matching a selector running.",
        "Job": "A Job runs pods until a number of them have completed successfully.",
        "CronJob": "A CronJob creates Jobs on a schedule.",
        "Lease": "A Lease records who holds a lock, and until when (leader election, node "
        "heartbeats).",
        "Ingress": "An Ingress routes HTTP traffic by host and path to Services.",
        "HorizontalPodAutoscaler": "A HorizontalPodAutoscaler sets the replicas of a scalable "
        "target (a Deployment...) from the resource usage of its pods.",
        "IngressClass": "An IngressClass names the controller that serves Ingresses of the class.",
        "Role": "A Role grants rules (verbs on resources) within its namespace.",
        "ClusterRole": "A ClusterRole grants rules cluster-wide, or in one namespace through a "
        "RoleBinding; its rules may be aggregated from other ClusterRoles.",
        "RoleBinding": "A RoleBinding grants a Role or ClusterRole to subjects in its namespace.",
        "ClusterRoleBinding": "A ClusterRoleBinding grants a ClusterRole to subjects cluster-wide.",
    }
)

FIELD_TEXT = MappingProxyType(
    {
        "metadata": "Standard object metadata: name, namespace, labels, annotations and what "
        "the server records.",
        "spec": "The desired state: what the object should be.",
        "status": "The observed state, written by the system; read-only for users.",
        "replicas": "How many pods are wanted.",
        "selector": "A label query choosing the pods this object manages; it must match the "
        "template's labels.",
        "template": "The pod template: the pods created are made from it.",
        "strategy": "How existing pods are replaced by new ones when the template changes.",
        "minReadySeconds": "Seconds a new pod must be ready, with no container crashing, "
        "before it counts as available.",
        "revisionHistoryLimit": "How many old ReplicaSets to keep for rollback.",
        "paused": "While true, changes to the template are not rolled out.",
        "progressDeadlineSeconds": "Seconds a rollout may make no progress before it is "
        "reported as failed.",
        "containers": "The containers of the pod, merged by name. At least one; each runs an "
        "image.",
        "initContainers": "Containers run one after another, each to completion, before the "
        "main containers start.",
        "image": "The container image to run.",
        "imagePullPolicy": "Always, Never or IfNotPresent: when the image is pulled.",
        "command": "The entrypoint, as an array; not run in a shell. Replaces the image's "
        "ENTRYPOINT.",
        "args": "Arguments to the entrypoint. Replace the image's CMD.",
        "workingDir": "The container's working directory.",
        "env": "Environment variables of the container, merged by name.",
        "envFrom": "Sources whose keys all become environment variables.",
        "ports": "Ports to expose.",
        "containerPort": "The port number the container listens on.",
        "resources": "Compute resources (cpu, memory) the container requests and is limited to.",
        "livenessProbe": "A check that restarts the container when it fails.",
        "readinessProbe": "A check that removes the pod from Service endpoints while it fails.",
        "startupProbe": "A check that holds the other probes back until it succeeds once.",
        "volumeMounts": "Volumes mounted into the container's filesystem, merged by mount path.",
        "volumes": "Volumes the pod's containers may mount, merged by name.",
        "restartPolicy": "Always, OnFailure or Never: whether containers are restarted when "
        "they exit.",
        "nodeName": "The node the pod is bound to; set by the scheduler.",
        "nodeSelector": "Labels a node must have for the pod to be scheduled there.",
        "serviceAccountName": "The ServiceAccount the pod runs as.",
        "terminationGracePeriodSeconds": "Seconds a pod is given to stop after it is asked to.",
        "hostNetwork": "Run in the node's network namespace.",
        "type": "The kind of thing this is, among the values the field allows.",
        "clusterIP": "The Service's virtual address; assigned when empty, None for a headless "
        "Service.",
        "targetPort": "The port on the pods that traffic is sent to: a number or a container "
        "port's name.",
        "nodePort": "The port on every node that forwards to the Service (NodePort, LoadBalancer).",
        "schedule": "When to run, in cron syntax.",
        "jobTemplate": "The Job created at each scheduled time.",
        "completions": "How many pods must succeed for the Job to be complete.",
        "parallelism": "How many pods may run at once.",
        "backoffLimit": "How many retries before the Job is marked failed.",
        "data": "The values, by key.",
        "labels": "Key-value pairs used to organise and select objects.",
        "annotations": "Key-value pairs for tools and people; not used to select objects.",
        "rules": "Host and path rules; the first match routes the request.",
    }
)

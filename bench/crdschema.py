"""A CustomResourceDefinition the size of Knative's Service, and an object for it.

The API benchmark's custom-resource row needs a schema as heavy as the ones
real operators install. Knative Serving's ``Service`` is the usual yardstick:
about 100 KB of OpenAPI, most of it the descriptions of an embedded pod
template (containers with env, ports, resources, probes, lifecycle hooks,
security context, volume mounts; volumes), plus routing (``traffic``). This
module writes such a schema of its own: the same shape and density of
keywords (types, descriptions, enums, patterns, defaults, list types, formats,
int-or-string, a few CEL rules), not Knative's text.

``crd()`` is the CRD (``services.bench.example.com``, kind ``BenchService``,
namespaced, one version ``v1`` with a status subresource); ``service(name)``
is a realistic object for it, about 3 KB of JSON. ``python -m bench.crdschema``
prints both sizes.

The helpers build the schema bottom-up from a few node constructors, so a
piece used in several places (a probe, an exec action, a key selector) is
written once and repeated in the output, as it is in a generated CRD.
"""

from __future__ import annotations

import json
from typing import Any

GROUP = "bench.example.com"
VERSION = "v1"
KIND = "BenchService"
PLURAL = "services"

Schema = dict[str, Any]


# -- node constructors ---------------------------------------------------------


def string(description: str, **kw: Any) -> Schema:
    return {"type": "string", "description": description, **kw}


def integer(description: str, fmt: str = "int32", **kw: Any) -> Schema:
    return {"type": "integer", "format": fmt, "description": description, **kw}


def boolean(description: str, **kw: Any) -> Schema:
    return {"type": "boolean", "description": description, **kw}


def obj(description: str, properties: dict[str, Schema], *required: str, **kw: Any) -> Schema:
    out: Schema = {"type": "object", "description": description, "properties": properties}
    if required:
        out["required"] = list(required)
    return {**out, **kw}


def array(description: str, items: Schema, **kw: Any) -> Schema:
    return {"type": "array", "description": description, "items": items, **kw}


def strings(description: str, **kw: Any) -> Schema:
    return array(description, {"type": "string"}, **kw)


def string_map(description: str) -> Schema:
    return {
        "type": "object",
        "description": description,
        "additionalProperties": {"type": "string"},
    }


def int_or_string(description: str) -> Schema:
    return {"description": description, "x-kubernetes-int-or-string": True}


def quantities(description: str) -> Schema:
    return {
        "type": "object",
        "description": description,
        "additionalProperties": {
            "x-kubernetes-int-or-string": True,
            "pattern": r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|"
            r"([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$",
        },
    }


# -- shared pieces -----------------------------------------------------------------

NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


def key_selector(what: str) -> Schema:
    return obj(
        f"Selects a key of a {what} in the object's namespace. The {what} is read when the "
        "container starts; a later change to it is not seen by a running container, which "
        "keeps the value it started with until its revision is replaced.",
        {
            "key": string(
                f"The key to select. It must be a valid {what} key: alphanumeric characters, "
                "'-', '_' or '.', at most 253 characters."
            ),
            "name": string(
                f"Name of the referent {what}. More about names in the object metadata "
                "conventions; it must be a DNS subdomain in the same namespace.",
                default="",
            ),
            "optional": boolean(
                f"Whether the {what} or its key may be absent. When true and the referent is "
                "missing, the variable is not set; when false (the default) the revision does "
                "not become ready until it exists."
            ),
        },
        "key",
        **{"x-kubernetes-map-type": "atomic"},
    )


def field_selector() -> Schema:
    return obj(
        "Selects a field of the pod: metadata.name, metadata.namespace, "
        "metadata.labels['<KEY>'], metadata.annotations['<KEY>'], spec.nodeName, "
        "spec.serviceAccountName, status.hostIP, status.podIP or status.podIPs. The value is "
        "resolved by the node when the container starts.",
        {
            "apiVersion": string(
                'Version of the schema the FieldPath is written in terms of, defaults to "v1".'
            ),
            "fieldPath": string("Path of the field to select in the specified API version."),
        },
        "fieldPath",
        **{"x-kubernetes-map-type": "atomic"},
    )


def resource_selector() -> Schema:
    return obj(
        "Selects a resource of the container: only resource limits and requests "
        "(limits.cpu, limits.memory, limits.ephemeral-storage, requests.cpu, requests.memory "
        "and requests.ephemeral-storage) are currently supported.",
        {
            "containerName": string("Container name: required for volumes, optional for env."),
            "divisor": int_or_string(
                'Specifies the output format of the exposed resources, defaults to "1".'
            ),
            "resource": string("Required: resource to select."),
        },
        "resource",
        **{"x-kubernetes-map-type": "atomic"},
    )


def env_var() -> Schema:
    return obj(
        "An environment variable present in the container. Variables are set in the order "
        "they are listed; a later one may refer to an earlier one with $(NAME).",
        {
            "name": string(
                "Name of the environment variable. It must be a C identifier: letters, digits "
                "and underscores, not starting with a digit.",
                pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                maxLength=256,
            ),
            "value": string(
                "Variable references $(VAR_NAME) are expanded using the previously defined "
                "environment variables in the container and any service environment "
                "variables. If a variable cannot be resolved, the reference in the input "
                "string is left unchanged. Double $$ are reduced to a single $, which allows "
                'escaping the $(VAR_NAME) syntax: "$$(VAR_NAME)" produces the string literal '
                '"$(VAR_NAME)". Escaped references are never expanded, regardless of whether '
                'the variable exists or not. Defaults to "".'
            ),
            "valueFrom": obj(
                "Source for the environment variable's value. Cannot be used if value is not "
                "empty. Exactly one of its fields must be set.",
                {
                    "configMapKeyRef": key_selector("ConfigMap"),
                    "fieldRef": field_selector(),
                    "resourceFieldRef": resource_selector(),
                    "secretKeyRef": key_selector("Secret"),
                },
            ),
        },
        "name",
    )


def env_from() -> Schema:
    def source(what: str) -> Schema:
        return obj(
            f"The {what} to select from. Every key of it becomes a variable, unless the key "
            "is not a valid variable name, in which case it is skipped and an event is "
            "recorded on the pod.",
            {
                "name": string(f"Name of the referent {what}.", default=""),
                "optional": boolean(f"Specify whether the {what} must be defined."),
            },
            **{"x-kubernetes-map-type": "atomic"},
        )

    return obj(
        "A source to populate environment variables in the container: all the keys of a "
        "ConfigMap or a Secret, each optionally prefixed.",
        {
            "configMapRef": source("ConfigMap"),
            "prefix": string(
                "An optional identifier to prepend to each key in the ConfigMap or Secret. "
                "Must be a C identifier."
            ),
            "secretRef": source("Secret"),
        },
    )


def port_value(description: str) -> Schema:
    return int_or_string(
        f"{description} Either a number in 1-65535 or the name of a port declared by the "
        "container (an IANA_SVC_NAME); a name is resolved when the probe runs."
    )


def exec_action() -> Schema:
    return obj(
        "Exec specifies a command to execute in the container.",
        {
            "command": strings(
                "Command is the command line to execute inside the container, the working "
                "directory for the command is root ('/') in the container's filesystem. The "
                "command is simply exec'd, it is not run inside a shell, so traditional shell "
                "instructions ('|', etc) won't work. To use a shell, you need to explicitly "
                "call out to that shell. Exit status of 0 is treated as live/healthy and "
                "non-zero is unhealthy.",
                **{"x-kubernetes-list-type": "atomic"},
            )
        },
    )


def http_get_action() -> Schema:
    return obj(
        "HTTPGet specifies an HTTP GET request to perform. The probe succeeds on a status "
        "code of at least 200 and below 400.",
        {
            "host": string(
                "Host name to connect to, defaults to the pod IP. You probably want to set "
                '"Host" in httpHeaders instead.'
            ),
            "httpHeaders": array(
                "Custom headers to set in the request. HTTP allows repeated headers.",
                obj(
                    "HTTPHeader describes a custom header to be used in HTTP probes.",
                    {
                        "name": string(
                            "The header field name. This will be canonicalized upon output, "
                            "so case-variant names will be understood as the same header."
                        ),
                        "value": string("The header field value."),
                    },
                    "name",
                    "value",
                ),
                **{"x-kubernetes-list-type": "atomic"},
            ),
            "path": string("Path to access on the HTTP server.", default="/"),
            "port": port_value(
                "Name or number of the port to access on the container. Knative-style "
                "services may leave it out: the serving port is then used."
            ),
            "scheme": string(
                "Scheme to use for connecting to the host. Defaults to HTTP.",
                enum=["HTTP", "HTTPS"],
            ),
        },
    )


def tcp_socket_action() -> Schema:
    return obj(
        "TCPSocket specifies a connection to a TCP port: the action succeeds when the "
        "connection is accepted.",
        {
            "host": string("Optional: Host name to connect to, defaults to the pod IP."),
            "port": port_value("Number or name of the port to access on the container."),
        },
    )


def grpc_action() -> Schema:
    return obj(
        "GRPC specifies a GRPC HealthCheckRequest: the probe calls the standard gRPC health "
        "checking service of the container and succeeds on SERVING.",
        {
            "port": integer(
                "Port number of the gRPC service. Number must be in the range 1 to 65535.",
                minimum=1,
                maximum=65535,
            ),
            "service": string(
                "Service is the name of the service to place in the gRPC HealthCheckRequest. "
                "If this is not specified, the default behavior is defined by gRPC: the "
                "health of the server as a whole.",
                default="",
            ),
        },
        "port",
    )


def probe(which: str, effect: str) -> Schema:
    return obj(
        f"{which} probe of the container. {effect} Exactly one of exec, httpGet, tcpSocket "
        "and grpc may be given; without any, the serving port is checked with a TCP "
        "connection. Cannot be updated in place: a change makes a new revision.",
        {
            "exec": exec_action(),
            "failureThreshold": integer(
                "Minimum consecutive failures for the probe to be considered failed after "
                "having succeeded. Defaults to 3. Minimum value is 1.",
                minimum=1,
            ),
            "grpc": grpc_action(),
            "httpGet": http_get_action(),
            "initialDelaySeconds": integer(
                "Number of seconds after the container has started before the probe is "
                "initiated. Leaving it out lets the platform probe aggressively at start so "
                "that a revision becomes ready as soon as it can serve.",
                minimum=0,
            ),
            "periodSeconds": integer(
                "How often (in seconds) to perform the probe. Defaults to 10 seconds. "
                "Minimum value is 1; zero asks for the platform's aggressive probing.",
                minimum=0,
            ),
            "successThreshold": integer(
                "Minimum consecutive successes for the probe to be considered successful "
                "after having failed. Defaults to 1. Must be 1 for liveness and startup.",
                minimum=1,
            ),
            "tcpSocket": tcp_socket_action(),
            "terminationGracePeriodSeconds": integer(
                "Optional duration in seconds the pod needs to terminate gracefully upon "
                "probe failure. The grace period is the duration in seconds after the "
                "processes running in the pod are sent a termination signal and the time "
                "when the processes are forcibly halted with a kill signal.",
                fmt="int64",
            ),
            "timeoutSeconds": integer(
                "Number of seconds after which the probe times out. Defaults to 1 second. "
                "Minimum value is 1.",
                minimum=1,
            ),
        },
        **{
            "x-kubernetes-validations": [
                {
                    "rule": "[has(self.exec), has(self.httpGet), has(self.tcpSocket), "
                    "has(self.grpc)].filter(x, x).size() <= 1",
                    "message": "may not specify more than 1 handler type",
                }
            ]
        },
    )


def lifecycle_handler(when: str) -> Schema:
    return obj(
        f"{when} Exactly one of exec, httpGet, sleep and tcpSocket is given; if the handler "
        "fails, the container is terminated and restarted according to its restart policy. "
        "Other management of the container blocks until the hook completes.",
        {
            "exec": exec_action(),
            "httpGet": http_get_action(),
            "sleep": obj(
                "Sleep represents the duration that the container should sleep before being "
                "terminated.",
                {"seconds": integer("Seconds is the number of seconds to sleep.", fmt="int64")},
                "seconds",
            ),
            "tcpSocket": tcp_socket_action(),
        },
    )


def security_context() -> Schema:
    return obj(
        "SecurityContext defines the security options the container should be run with. If "
        "set, the fields of SecurityContext override the equivalent fields of "
        "PodSecurityContext. The platform only lets a subset of the fields through; the "
        "others are rejected unless the matching feature flag is enabled.",
        {
            "allowPrivilegeEscalation": boolean(
                "AllowPrivilegeEscalation controls whether a process can gain more privileges "
                "than its parent process. This bool directly controls if the no_new_privs "
                "flag will be set on the container process."
            ),
            "capabilities": obj(
                "The capabilities to add/drop when running containers. Defaults to the "
                "default set of capabilities granted by the container runtime.",
                {
                    "add": strings(
                        "Added capabilities: only NET_BIND_SERVICE is allowed.",
                        **{"x-kubernetes-list-type": "atomic"},
                    ),
                    "drop": strings(
                        "Removed capabilities; ALL drops every capability the runtime grants.",
                        **{"x-kubernetes-list-type": "atomic"},
                    ),
                },
            ),
            "readOnlyRootFilesystem": boolean(
                "Whether this container has a read-only root filesystem. Default is false."
            ),
            "runAsGroup": integer(
                "The GID to run the entrypoint of the container process. Uses runtime "
                "default if unset. May also be set in PodSecurityContext.",
                fmt="int64",
            ),
            "runAsNonRoot": boolean(
                "Indicates that the container must run as a non-root user. If true, the node "
                "will validate the image at runtime to ensure that it does not run as UID 0 "
                "(root) and fail to start the container if it does."
            ),
            "runAsUser": integer(
                "The UID to run the entrypoint of the container process. Defaults to user "
                "specified in image metadata if unspecified.",
                fmt="int64",
            ),
            "seccompProfile": obj(
                "The seccomp options to use by this container. If seccomp options are "
                "provided at both the pod and container level, the container options "
                "override the pod options.",
                {
                    "localhostProfile": string(
                        "A profile defined in a file on the node. The profile must be "
                        "preconfigured on the node to work. Must be a descending path, "
                        "relative to the node's configured seccomp profile location."
                    ),
                    "type": string(
                        "Which kind of seccomp profile will be applied.",
                        enum=["Localhost", "RuntimeDefault", "Unconfined"],
                    ),
                },
                "type",
            ),
        },
    )


def container(role: str) -> Schema:
    return obj(
        f"A single application container that you want to run within a pod: the {role}. "
        "Only the fields the platform can honour are accepted.",
        {
            "args": strings(
                "Arguments to the entrypoint. The container image's CMD is used if this is "
                "not provided. Variable references $(VAR_NAME) are expanded using the "
                "container's environment. If a variable cannot be resolved, the reference in "
                "the input string will be unchanged. Double $$ are reduced to a single $. "
                "Cannot be updated in place.",
                **{"x-kubernetes-list-type": "atomic"},
            ),
            "command": strings(
                "Entrypoint array. Not executed within a shell. The container image's "
                "ENTRYPOINT is used if this is not provided. Variable references "
                "$(VAR_NAME) are expanded using the container's environment, as for args.",
                **{"x-kubernetes-list-type": "atomic"},
            ),
            "env": array(
                "List of environment variables to set in the container. Cannot be updated "
                "in place: a change makes a new revision.",
                env_var(),
                maxItems=256,
                **{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
            ),
            "envFrom": array(
                "List of sources to populate environment variables in the container. The "
                "keys defined within a source must be a C identifier. All invalid keys are "
                "reported as an event when the container is starting. When a key exists in "
                "multiple sources, the value associated with the last source takes "
                "precedence. Values defined by an env with a duplicate key take precedence.",
                env_from(),
                **{"x-kubernetes-list-type": "atomic"},
            ),
            "image": string(
                "Container image name: a registry host, a repository and a tag or digest. "
                "Tags are resolved to digests when a revision is created, so that every pod "
                "of a revision runs the same bytes.",
                minLength=1,
            ),
            "imagePullPolicy": string(
                "Image pull policy. One of Always, Never, IfNotPresent. Defaults to Always "
                "if the :latest tag is specified, or IfNotPresent otherwise.",
                enum=["Always", "IfNotPresent", "Never"],
            ),
            "lifecycle": obj(
                "Actions that the management system should take in response to container "
                "lifecycle events. Cannot be updated in place.",
                {
                    "postStart": lifecycle_handler(
                        "PostStart is called immediately after a container is created."
                    ),
                    "preStop": lifecycle_handler(
                        "PreStop is called immediately before a container is terminated due "
                        "to an API request or management event such as a failed probe, "
                        "preemption or resource contention. The grace period countdown "
                        "begins before the hook is executed."
                    ),
                },
            ),
            "livenessProbe": probe("Periodic", "The container is restarted if the probe fails."),
            "name": string(
                "Name of the container specified as a DNS_LABEL. Each container in a pod "
                "must have a unique name; the serving container is conventionally called "
                "user-container.",
                pattern=NAME_PATTERN,
                maxLength=63,
            ),
            "ports": array(
                "List of ports to expose from the container. Only one port may be declared: "
                "the one the platform routes requests to. Its name selects the protocol: "
                "http1 (the default) or h2c.",
                obj(
                    "ContainerPort represents a network port in a single container.",
                    {
                        "containerPort": integer(
                            "Number of port to expose on the pod's IP address. This must be "
                            "a valid port number, 0 < x < 65536.",
                            minimum=1,
                            maximum=65535,
                        ),
                        "hostIP": string("What host IP to bind the external port to."),
                        "hostPort": integer(
                            "Number of port to expose on the host; most containers do not "
                            "need this and the platform rejects it."
                        ),
                        "name": string(
                            "The protocol the container serves on the port.",
                            enum=["http1", "h2c"],
                        ),
                        "protocol": string(
                            'Protocol for port. Must be UDP, TCP, or SCTP. Defaults to "TCP".',
                            enum=["TCP", "UDP", "SCTP"],
                            default="TCP",
                        ),
                    },
                    "containerPort",
                ),
                maxItems=1,
                **{
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
                },
            ),
            "readinessProbe": probe(
                "Periodic",
                "The container is removed from the revision's endpoints if the probe fails.",
            ),
            "resources": obj(
                "Compute resources required by this container. The platform defaults the "
                "requests from its configuration when they are left out.",
                {
                    "claims": array(
                        "Claims lists the names of resources, defined in "
                        "spec.resourceClaims, that are used by this container.",
                        obj(
                            "A reference to one entry in PodSpec.ResourceClaims.",
                            {
                                "name": string(
                                    "Name must match the name of one entry in "
                                    "pod.spec.resourceClaims of the pod where this field is "
                                    "used. It makes that resource available inside a "
                                    "container."
                                )
                            },
                            "name",
                        ),
                        **{
                            "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["name"],
                        },
                    ),
                    "limits": quantities(
                        "Limits describes the maximum amount of compute resources allowed."
                    ),
                    "requests": quantities(
                        "Requests describes the minimum amount of compute resources required. "
                        "If Requests is omitted for a container, it defaults to Limits if that "
                        "is explicitly specified, otherwise to the platform's defaults."
                    ),
                },
            ),
            "securityContext": security_context(),
            "startupProbe": probe(
                "Startup",
                "No other probe runs until it succeeds; if it fails, the container is restarted.",
            ),
            "terminationMessagePath": string(
                "Optional: Path at which the file to which the container's termination "
                "message will be written is mounted into the container's filesystem. "
                "Defaults to /dev/termination-log.",
                default="/dev/termination-log",
            ),
            "terminationMessagePolicy": string(
                "Indicate how the termination message should be populated. File will use the "
                "contents of terminationMessagePath to populate the container status message "
                "on both success and failure. FallbackToLogsOnError will use the last chunk "
                "of container log output if the termination message file is empty and the "
                "container exited with an error.",
                enum=["File", "FallbackToLogsOnError"],
                default="File",
            ),
            "volumeMounts": array(
                "Pod volumes to mount into the container's filesystem. Cannot be updated in place.",
                obj(
                    "VolumeMount describes a mounting of a Volume within a container.",
                    {
                        "mountPath": string(
                            "Path within the container at which the volume should be mounted. "
                            "Must not contain ':'. Paths under /dev/log and the platform's "
                            "own mounts are reserved.",
                            pattern=r"^/[^:]*$",
                        ),
                        "name": string("This must match the Name of a Volume."),
                        "readOnly": boolean(
                            "Mounted read-only if true, read-write otherwise. Only read-only "
                            "mounts are accepted.",
                            default=True,
                        ),
                        "subPath": string(
                            "Path within the volume from which the container's volume should "
                            'be mounted. Defaults to "" (volume\'s root).'
                        ),
                    },
                    "mountPath",
                    "name",
                ),
                **{
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["mountPath"],
                },
            ),
            "workingDir": string(
                "Container's working directory. If not specified, the container runtime's "
                "default will be used, which might be configured in the container image."
            ),
        },
        "name",
    )


def key_to_paths() -> Schema:
    return array(
        "If unspecified, each key-value pair in the Data field of the referenced source "
        "will be projected into the volume as a file whose name is the key and content is "
        "the value. If specified, the listed keys will be projected into the specified paths, "
        "and unlisted keys will not be present. Paths must be relative and may not contain "
        "the '..' path or start with '..'.",
        obj(
            "Maps a string key to a path within a volume.",
            {
                "key": string("key is the key to project."),
                "mode": integer(
                    "mode is Optional: mode bits used to set permissions on this file. Must "
                    "be an octal value between 0000 and 0777 or a decimal value between 0 "
                    "and 511. If not specified, the volume defaultMode will be used.",
                    minimum=0,
                    maximum=511,
                ),
                "path": string(
                    "path is the relative path of the file to map the key to. May not be an "
                    "absolute path. May not contain the path element '..'. May not start "
                    "with the string '..'."
                ),
            },
            "key",
            "path",
        ),
        **{"x-kubernetes-list-type": "atomic"},
    )


def volume_source(what: str, name_field: str) -> Schema:
    return obj(
        f"A {what} that should populate this volume: each key becomes a file.",
        {
            "defaultMode": integer(
                "Optional: mode bits used to set permissions on created files by default. "
                "Must be an octal value between 0000 and 0777 or a decimal value between 0 "
                "and 511. Defaults to 0644. Directories within the path are not affected by "
                "this setting.",
                minimum=0,
                maximum=511,
            ),
            "items": key_to_paths(),
            name_field: string(f"Name of the {what} in the pod's namespace to use."),
            "optional": boolean(f"Specify whether the {what} or its keys must be defined."),
        },
    )


def volume() -> Schema:
    return obj(
        "Volume represents a named volume in a pod that may be accessed by any container in "
        "the pod. Only ConfigMap, Secret, projected, emptyDir and persistentVolumeClaim "
        "sources are accepted.",
        {
            "configMap": volume_source("ConfigMap", "name"),
            "emptyDir": obj(
                "A temporary directory that shares a pod's lifetime.",
                {
                    "medium": string(
                        "What type of storage medium should back this directory. The "
                        'default is "" which means to use the node\'s default medium. Must '
                        "be an empty string (default) or Memory.",
                        enum=["", "Memory"],
                    ),
                    "sizeLimit": int_or_string(
                        "Total amount of local storage required for this EmptyDir volume. "
                        "The size limit is also applicable for memory medium."
                    ),
                },
            ),
            "name": string(
                "Name of the volume. Must be a DNS_LABEL and unique within the pod.",
                pattern=NAME_PATTERN,
                maxLength=63,
            ),
            "persistentVolumeClaim": obj(
                "A reference to a PersistentVolumeClaim in the same namespace.",
                {
                    "claimName": string(
                        "The name of a PersistentVolumeClaim in the same namespace as the "
                        "pod using this volume."
                    ),
                    "readOnly": boolean("Will force the ReadOnly setting in VolumeMounts."),
                },
                "claimName",
            ),
            "projected": obj(
                "Items for all in one resources secrets, configmaps, and downward API.",
                {
                    "defaultMode": integer(
                        "Mode bits used to set permissions on created files by default.",
                        minimum=0,
                        maximum=511,
                    ),
                    "sources": array(
                        "List of volume projections. Each entry in this list handles one source.",
                        obj(
                            "Projection that may be projected along with other supported "
                            "volume types. Exactly one of these fields must be set.",
                            {
                                "configMap": volume_source("ConfigMap", "name"),
                                "secret": volume_source("Secret", "name"),
                                "serviceAccountToken": obj(
                                    "Information about the serviceAccountToken data to project.",
                                    {
                                        "audience": string(
                                            "Intended audience of the token. A recipient of "
                                            "a token must identify itself with an "
                                            "identifier specified in the audience of the "
                                            "token, and otherwise should reject the token."
                                        ),
                                        "expirationSeconds": integer(
                                            "The requested duration of validity of the "
                                            "service account token. As the token approaches "
                                            "expiration, the node volume plugin will "
                                            "proactively rotate it.",
                                            fmt="int64",
                                            minimum=600,
                                        ),
                                        "path": string(
                                            "Path relative to the mount point of the file to "
                                            "project the token into."
                                        ),
                                    },
                                    "path",
                                ),
                            },
                        ),
                        **{"x-kubernetes-list-type": "atomic"},
                    ),
                },
            ),
            "secret": volume_source("Secret", "secretName"),
        },
        "name",
    )


def pod_spec() -> Schema:
    return obj(
        "The revision's pod: a subset of a PodSpec. Fields the platform cannot honour are "
        "rejected, others are filled in from its configuration.",
        {
            "affinity": obj(
                "If specified, the pod's scheduling constraints. Only accepted when the "
                "matching feature flag is on.",
                {},
                **{"x-kubernetes-preserve-unknown-fields": True},
            ),
            "securityContext": obj(
                "PodSecurityContext holds pod-level security attributes and common container "
                "settings. Only a subset of the fields is accepted; the container-level "
                "settings take precedence where both are given.",
                {
                    "fsGroup": integer(
                        "A special supplemental group that applies to all containers in a "
                        "pod. Volumes that support ownership management are modified to be "
                        "owned and writable by this GID.",
                        fmt="int64",
                    ),
                    "runAsGroup": integer(
                        "The GID to run the entrypoint of the container process.", fmt="int64"
                    ),
                    "runAsNonRoot": boolean(
                        "Indicates that the container must run as a non-root user."
                    ),
                    "runAsUser": integer(
                        "The UID to run the entrypoint of the container process.", fmt="int64"
                    ),
                    "supplementalGroups": array(
                        "A list of groups applied to the first process run in each container, "
                        "in addition to the container's primary GID.",
                        {"type": "integer", "format": "int64"},
                        **{"x-kubernetes-list-type": "atomic"},
                    ),
                },
            ),
            "automountServiceAccountToken": boolean(
                "Whether a service account token should be automatically mounted."
            ),
            "containerConcurrency": integer(
                "The maximum number of concurrent requests being handled by a single "
                "instance of the container. 0 (the default) lets the platform choose, "
                "without a hard limit.",
                fmt="int64",
                minimum=0,
                maximum=1000,
            ),
            "containers": array(
                "List of containers belonging to the pod. Exactly one of them serves "
                "requests (the one that declares a port, or the only one); the others are "
                "sidecars started alongside it.",
                container("serving container or a sidecar"),
                minItems=1,
                maxItems=10,
                **{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
            ),
            "dnsPolicy": string(
                "Set DNS policy for the pod. Defaults to ClusterFirst.",
                enum=["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"],
            ),
            "enableServiceLinks": boolean(
                "Indicates whether information about services should be injected into the "
                "pod's environment variables, matching the syntax of Docker links. Defaults "
                "to false for revisions, unlike pods."
            ),
            "idleTimeoutSeconds": integer(
                "The maximum duration in seconds a request will be allowed to stay open "
                "while not receiving any bytes from the user's application.",
                fmt="int64",
                minimum=0,
            ),
            "imagePullSecrets": array(
                "List of references to secrets in the same namespace to use for pulling any "
                "of the images used by this pod.",
                obj(
                    "A reference to a Secret in the same namespace.",
                    {"name": string("Name of the referent.", default="")},
                    **{"x-kubernetes-map-type": "atomic"},
                ),
                **{"x-kubernetes-list-type": "atomic"},
            ),
            "initContainers": array(
                "List of initialization containers belonging to the pod. They run one after "
                "another before the containers start; a failure restarts the pod.",
                container("an init container"),
                maxItems=10,
                **{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
            ),
            "nodeSelector": string_map(
                "A selector which must be true for the pod to fit on a node. Selector which "
                "must match a node's labels for the pod to be scheduled on that node."
            ),
            "responseStartTimeoutSeconds": integer(
                "The maximum duration in seconds that the request routing layer will wait "
                "for a request delivered to a container to begin sending any network "
                "traffic.",
                fmt="int64",
                minimum=0,
            ),
            "runtimeClassName": string(
                "The RuntimeClass object in the node.k8s.io group which should be used to "
                "run this pod."
            ),
            "schedulerName": string("The scheduler that dispatches the pod."),
            "serviceAccountName": string(
                "Name of the ServiceAccount to use to run this pod.",
                pattern=NAME_PATTERN,
            ),
            "timeoutSeconds": integer(
                "The maximum duration in seconds that the request instance is allowed to "
                "respond to a request.",
                fmt="int64",
                minimum=0,
                maximum=3600,
                default=300,
            ),
            "tolerations": array(
                "If specified, the pod's tolerations.",
                obj(
                    "The pod this Toleration is attached to tolerates any taint that "
                    "matches the triple <key,value,effect> using the matching operator.",
                    {
                        "effect": string(
                            "Effect indicates the taint effect to match. Empty means match "
                            "all taint effects.",
                            enum=["", "NoSchedule", "PreferNoSchedule", "NoExecute"],
                        ),
                        "key": string(
                            "Key is the taint key that the toleration applies to. Empty "
                            "means match all taint keys."
                        ),
                        "operator": string(
                            "Operator represents a key's relationship to the value.",
                            enum=["Exists", "Equal"],
                        ),
                        "tolerationSeconds": integer(
                            "The period of time the toleration tolerates the taint.",
                            fmt="int64",
                        ),
                        "value": string("The taint value the toleration matches to."),
                    },
                ),
                **{"x-kubernetes-list-type": "atomic"},
            ),
            "volumes": array(
                "List of volumes that can be mounted by containers belonging to the pod.",
                volume(),
                **{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
            ),
        },
        "containers",
    )


def traffic_target() -> Schema:
    return obj(
        "TrafficTarget holds a single entry of the routing table: a revision (by name, or "
        "the latest ready one) and the share of requests it receives, optionally under a "
        "tag of its own.",
        {
            "configurationName": string(
                "The name of a configuration to whose latest revision we will send this "
                "portion of traffic. When the configuration's latest ready revision changes, "
                "we will automatically migrate traffic from the prior revision to the new "
                "one. This field is never set in a service's spec."
            ),
            "latestRevision": boolean(
                "Optionally provided to indicate that the latest ready revision of the "
                "configuration should be used for this traffic target. When provided "
                "latestRevision must be true if revisionName is empty; it must be false "
                "when revisionName is non-empty."
            ),
            "percent": integer(
                "The percentage of requests which should be allocated from the main route "
                "domain name to the specified target. The sum of all percentages must be "
                "100; targets without a percentage receive none.",
                fmt="int64",
                minimum=0,
                maximum=100,
            ),
            "revisionName": string(
                "A specific revision to which to send this portion of traffic. This is "
                "mutually exclusive with configurationName.",
                pattern=NAME_PATTERN,
            ),
            "tag": string(
                "Tag is optionally used to expose a dedicated URL for referencing this "
                "target exclusively: <tag>-<service>.<namespace>.<domain>.",
                pattern=NAME_PATTERN,
                maxLength=63,
            ),
            "url": string(
                "The URL at which the tag's target is reachable, set in status only.",
                format="uri",
            ),
        },
        **{
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.revisionName) || !has(self.latestRevision) || "
                    "!self.latestRevision",
                    "message": "latestRevision may not be true when revisionName is set",
                }
            ]
        },
    )


def condition() -> Schema:
    return obj(
        "Condition defines a readiness condition for a resource: its type, status, reason "
        "and message, and when it last changed.",
        {
            "lastTransitionTime": string(
                "LastTransitionTime is the last time the condition transitioned from one "
                "status to another. We use VolatileTime in place of metav1.Time to exclude "
                "this from creating equality.Semantic differences.",
                format="date-time",
            ),
            "message": string("A human readable message indicating details about the transition."),
            "reason": string("The reason for the condition's last transition."),
            "severity": string(
                "Severity with which to treat failures of this type of condition. When "
                "this is not specified, it defaults to Error.",
                enum=["", "Error", "Warning", "Info"],
            ),
            "status": string(
                "Status of the condition, one of True, False, Unknown.",
                enum=["True", "False", "Unknown"],
            ),
            "type": string("Type of condition."),
        },
        "status",
        "type",
    )


def template_metadata() -> Schema:
    return obj(
        "Metadata of the revisions the template makes: labels and annotations are copied "
        "onto each revision and its pods; a name, when given, names the next revision and "
        "must change with every change of the template.",
        {
            "annotations": string_map(
                "Annotations of the revision: the platform's autoscaling annotations "
                "(min-scale, max-scale, target, window, class) are read from here."
            ),
            "finalizers": strings(
                "Finalizers of the revision.", **{"x-kubernetes-list-type": "set"}
            ),
            "labels": string_map("Labels of the revision and its pods."),
            "name": string(
                "Name of the revision to create: <service>-<suffix>; generated when absent.",
                pattern=NAME_PATTERN,
                maxLength=63,
            ),
        },
    )


def spec() -> Schema:
    return obj(
        "ServiceSpec represents the configuration for the Service object: a template for "
        "the revisions to run and the routing of traffic among them. A change to the "
        "template makes a new revision; a change to traffic only reroutes.",
        {
            "template": obj(
                "Template holds the latest specification for the revision to be stamped out.",
                {"metadata": template_metadata(), "spec": pod_spec()},
                "spec",
            ),
            "traffic": array(
                "Traffic specifies how to distribute traffic over a collection of revisions "
                "and configurations. When left out, all traffic goes to the latest ready "
                "revision.",
                traffic_target(),
                maxItems=100,
                **{"x-kubernetes-list-type": "atomic"},
            ),
        },
        "template",
        **{
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.traffic) || size(self.traffic) == 0 || "
                    "self.traffic.map(t, has(t.percent) ? t.percent : 0).sum() == 100",
                    "message": "traffic percentages must add up to 100",
                }
            ]
        },
    )


def status() -> Schema:
    return obj(
        "ServiceStatus communicates the observed state of the Service (from the controller).",
        {
            "address": obj(
                "Address holds the information needed for a Route to be the target of an event.",
                {
                    "name": string("Name is the name of the address."),
                    "url": string("URL of the address.", format="uri"),
                },
            ),
            "annotations": string_map(
                "Annotations is additional Status fields for the Resource to save some "
                "additional State as well as convey more information to the user."
            ),
            "conditions": array(
                "Conditions the latest available observations of a resource's current state.",
                condition(),
                **{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
            ),
            "latestCreatedRevisionName": string(
                "LatestCreatedRevisionName is the last revision that was created from this "
                "Configuration. It might not be ready yet, for that use "
                "LatestReadyRevisionName."
            ),
            "latestReadyRevisionName": string(
                "LatestReadyRevisionName holds the name of the latest Revision stamped out "
                'from this Configuration that has had its "Ready" condition become "True".'
            ),
            "observedGeneration": integer(
                "ObservedGeneration is the 'Generation' of the Service that was last "
                "processed by the controller.",
                fmt="int64",
            ),
            "traffic": array(
                "Traffic holds the configured traffic distribution. These entries will "
                "always contain RevisionName references. When ConfigurationName appears in "
                "the spec, this will hold the LatestReadyRevisionName that we last observed.",
                traffic_target(),
                **{"x-kubernetes-list-type": "atomic"},
            ),
            "url": string(
                "URL holds the url that will distribute traffic over the provided traffic "
                "targets. It generally has the form http[s]://{route-name}.{route-namespace}"
                ".{cluster-level-suffix}",
                format="uri",
            ),
        },
    )


def openapi_schema() -> Schema:
    """The version's ``openAPIV3Schema``."""
    return obj(
        "Service acts as a top-level container that manages a Route and Configuration which "
        "implement a network service. Service exists to provide a singular abstraction which "
        "can be access controlled, reasoned about, and which encapsulates software lifecycle "
        "decisions such as rollout policy and team resource ownership.",
        {
            "apiVersion": string(
                "APIVersion defines the versioned schema of this representation of an "
                "object. Servers should convert recognized schemas to the latest internal "
                "value, and may reject unrecognized values."
            ),
            "kind": string(
                "Kind is a string value representing the REST resource this object "
                "represents. Servers may infer this from the endpoint the client submits "
                "requests to. Cannot be updated. In CamelCase."
            ),
            "metadata": {"type": "object"},
            "spec": spec(),
            "status": status(),
        },
    )


def crd() -> dict[str, Any]:
    """The CustomResourceDefinition, ready to POST."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "plural": PLURAL,
                "singular": "service",
                "kind": KIND,
                "listKind": f"{KIND}List",
                "shortNames": ["bsvc"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "URL", "type": "string", "jsonPath": ".status.url"},
                        {
                            "name": "LatestReady",
                            "type": "string",
                            "jsonPath": ".status.latestReadyRevisionName",
                        },
                        {
                            "name": "Ready",
                            "type": "string",
                            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
                        },
                    ],
                    "schema": {"openAPIV3Schema": openapi_schema()},
                }
            ],
        },
    }


def service(name: str) -> dict[str, Any]:
    """A realistic BenchService: a web app with a sidecar, probes, env and volumes."""
    probe_get = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/name": "shop", "bench": "cr"},
            "annotations": {"bench.example.com/owner": "team-checkout"},
        },
        "spec": {
            "template": {
                "metadata": {
                    "labels": {"app": "shop", "tier": "web"},
                    "annotations": {
                        "autoscaling.bench.example.com/min-scale": "1",
                        "autoscaling.bench.example.com/max-scale": "20",
                        "autoscaling.bench.example.com/target": "100",
                    },
                },
                "spec": {
                    "containerConcurrency": 50,
                    "serviceAccountName": "shop",
                    "containers": [
                        {
                            "name": "user-container",
                            "image": "registry.example.com/shop/web@sha256:"
                            "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945",
                            "command": ["/app/bin/server"],
                            "args": ["--listen=:8080", "--log-format=json", "--workers=4"],
                            "env": [
                                {"name": "LOG_LEVEL", "value": "info"},
                                {"name": "DATABASE_HOST", "value": "postgres.shop.svc"},
                                {
                                    "name": "DATABASE_PASSWORD",
                                    "valueFrom": {
                                        "secretKeyRef": {"name": "shop-db", "key": "password"}
                                    },
                                },
                                {
                                    "name": "FEATURE_FLAGS",
                                    "valueFrom": {
                                        "configMapKeyRef": {
                                            "name": "shop-flags",
                                            "key": "flags",
                                            "optional": True,
                                        }
                                    },
                                },
                                {
                                    "name": "POD_NAME",
                                    "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                                },
                                {
                                    "name": "MEMORY_LIMIT",
                                    "valueFrom": {
                                        "resourceFieldRef": {"resource": "limits.memory"}
                                    },
                                },
                            ],
                            "envFrom": [{"configMapRef": {"name": "shop-env"}}],
                            "ports": [{"name": "http1", "containerPort": 8080}],
                            "resources": {
                                "requests": {"cpu": "250m", "memory": "256Mi"},
                                "limits": {"cpu": "1", "memory": "512Mi"},
                            },
                            "readinessProbe": probe_get,
                            "livenessProbe": {**probe_get, "failureThreshold": 5},
                            "startupProbe": {
                                "tcpSocket": {"port": 8080},
                                "failureThreshold": 30,
                                "periodSeconds": 2,
                            },
                            "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "runAsNonRoot": True,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                                "seccompProfile": {"type": "RuntimeDefault"},
                            },
                            "volumeMounts": [
                                {"name": "config", "mountPath": "/etc/shop", "readOnly": True},
                                {"name": "tls", "mountPath": "/etc/tls", "readOnly": True},
                            ],
                        },
                        {
                            "name": "metrics-agent",
                            "image": "registry.example.com/observability/agent:1.14.2",
                            "args": ["--scrape=localhost:9090", "--push=collector.obs:4317"],
                            "env": [{"name": "AGENT_MODE", "value": "sidecar"}],
                            "resources": {"requests": {"cpu": "20m", "memory": "32Mi"}},
                            "readinessProbe": {
                                "exec": {"command": ["/agent", "check"]},
                                "periodSeconds": 10,
                            },
                        },
                    ],
                    "volumes": [
                        {
                            "name": "config",
                            "configMap": {
                                "name": "shop-config",
                                "items": [{"key": "shop.yaml", "path": "shop.yaml"}],
                            },
                        },
                        {"name": "tls", "secret": {"secretName": "shop-tls", "defaultMode": 288}},
                    ],
                    "timeoutSeconds": 120,
                },
            },
            "traffic": [
                {"latestRevision": True, "percent": 90},
                {"revisionName": "shop-00041", "percent": 10, "tag": "previous"},
            ],
        },
    }


def sizes() -> tuple[int, int]:
    """Compact JSON sizes in bytes: (the openAPIV3Schema, one object)."""
    schema = json.dumps(openapi_schema(), separators=(",", ":"))
    body = json.dumps(service("shop"), separators=(",", ":"))
    return len(schema), len(body)


if __name__ == "__main__":
    schema_size, object_size = sizes()
    print(f"openAPIV3Schema: {schema_size / 1000:.1f} KB; object: {object_size / 1000:.1f} KB")

"""A container's environment: $(VAR) expansion, valueFrom, envFrom, service variables, PORT/HOST."""

from __future__ import annotations

import base64

import pytest

from orchestrator.kubelet.containerenv import (
    ContainerConfigError,
    container_env,
    expand,
    expand_argv,
    service_env,
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Source:
    def __init__(self, config_maps=None, secrets=None, services=None) -> None:
        self.cms = config_maps or {}
        self.secs = secrets or {}
        self.svcs = services or {}

    def config_map(self, namespace, name):
        return self.cms.get((namespace, name))

    def secret(self, namespace, name):
        return self.secs.get((namespace, name))

    def services(self, namespace):
        return self.svcs.get(namespace, [])


def pod(**spec) -> dict:
    return {
        "metadata": {
            "name": "web-1",
            "namespace": "shop",
            "uid": "u-1",
            "labels": {"app": "web", "tier": "front"},
        },
        "spec": {"nodeName": "n1", "serviceAccountName": "default", **spec},
    }


def svc(name: str, ip: str, *ports: dict) -> dict:
    return {"metadata": {"name": name}, "spec": {"clusterIP": ip, "ports": list(ports)}}


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("$(A)-$(B)", "1-two"),
        ("$$(A)", "$(A)"),
        ("$(MISSING)", "$(MISSING)"),
        ("$(A", "$(A"),
        ("a$b", "a$b"),
        ("cost: 5$", "cost: 5$"),
        ("$$$(A)", "$1"),
        ("", ""),
    ],
)
def test_expansion_follows_kubernetes_rules(text: str, want: str) -> None:
    assert expand(text, {"A": "1", "B": "two"}) == want


def test_literal_values_expand_earlier_variables_only() -> None:
    c = {
        "name": "app",
        "env": [
            {"name": "LATER_REF", "value": "$(B)"},
            {"name": "B", "value": "b"},
            {"name": "C", "value": "$(B)/c"},
        ],
    }
    env = dict(container_env(pod(), c, Source()))
    assert env["LATER_REF"] == "$(B)"
    assert env["C"] == "b/c"


def test_value_from_config_map_secret_and_fields() -> None:
    source = Source(
        config_maps={("shop", "cfg"): {"data": {"mode": "fast"}}},
        secrets={("shop", "creds"): {"data": {"password": b64("s3cret")}}},
    )
    c = {
        "name": "app",
        "env": [
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "HIP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
            {"name": "TIER", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['tier']"}}},
        ],
    }
    env = dict(container_env(pod(), c, source, pod_ip="10.203.1.5", host_ip="127.0.0.9"))
    assert env["MODE"] == "fast"
    assert env["PW"] == "s3cret"
    assert (env["POD"], env["NS"], env["UID"]) == ("web-1", "shop", "u-1")
    assert (env["IP"], env["HIP"], env["NODE"], env["SA"]) == (
        "10.203.1.5",
        "127.0.0.9",
        "n1",
        "default",
    )
    assert env["TIER"] == "front"


def test_missing_config_map_key_is_named() -> None:
    source = Source(config_maps={("shop", "cfg"): {"data": {"other": "x"}}})
    c = {
        "name": "app",
        "env": [{"name": "M", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}}],
    }
    with pytest.raises(ContainerConfigError, match="couldn't find key mode in ConfigMap shop/cfg"):
        container_env(pod(), c, source)


def test_missing_secret_is_named_and_optional_is_honoured() -> None:
    c = {
        "name": "app",
        "env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}],
    }
    with pytest.raises(ContainerConfigError, match='secret "nope" not found'):
        container_env(pod(), c, Source())
    c["env"][0]["valueFrom"]["secretKeyRef"]["optional"] = True
    assert "P" not in dict(container_env(pod(), c, Source()))


def test_env_from_with_prefix_and_env_overrides_it() -> None:
    source = Source(
        config_maps={("shop", "cfg"): {"data": {"A": "1", "B": "2"}}},
        secrets={("shop", "s"): {"data": {"TOKEN": b64("t")}}},
    )
    c = {
        "name": "app",
        "envFrom": [
            {"configMapRef": {"name": "cfg"}},
            {"secretRef": {"name": "s"}, "prefix": "SEC_"},
            {"configMapRef": {"name": "absent", "optional": True}},
        ],
        "env": [{"name": "B", "value": "override"}],
    }
    env = dict(container_env(pod(), c, source))
    assert env["A"] == "1"
    assert env["B"] == "override"
    assert env["SEC_TOKEN"] == "t"
    c["envFrom"].append({"configMapRef": {"name": "absent"}})
    with pytest.raises(ContainerConfigError, match='configmap "absent" not found'):
        container_env(pod(), c, source)


def test_service_variables_as_kubernetes_writes_them() -> None:
    env = dict(
        service_env(
            [
                svc(
                    "redis-primary",
                    "10.96.0.11",
                    {"name": "redis", "port": 6379, "protocol": "TCP"},
                    {"name": "metrics", "port": 9121, "protocol": "TCP"},
                ),
                svc("headless", "None", {"port": 80}),
            ]
        )
    )
    assert env["REDIS_PRIMARY_SERVICE_HOST"] == "10.96.0.11"
    assert env["REDIS_PRIMARY_SERVICE_PORT"] == "6379"
    assert env["REDIS_PRIMARY_SERVICE_PORT_METRICS"] == "9121"
    assert env["REDIS_PRIMARY_PORT"] == "tcp://10.96.0.11:6379"
    assert env["REDIS_PRIMARY_PORT_9121_TCP"] == "tcp://10.96.0.11:9121"
    assert env["REDIS_PRIMARY_PORT_6379_TCP_PROTO"] == "tcp"
    assert env["REDIS_PRIMARY_PORT_6379_TCP_PORT"] == "6379"
    assert env["REDIS_PRIMARY_PORT_6379_TCP_ADDR"] == "10.96.0.11"
    assert not any(k.startswith("HEADLESS") for k in env)


def test_service_links_honoured_and_usable_in_expansion() -> None:
    source = Source(
        services={
            "shop": [svc("db", "10.96.0.20", {"port": 5432})],
            "default": [svc("kubernetes", "10.96.0.1", {"name": "https", "port": 443})],
        }
    )
    c = {"name": "app", "env": [{"name": "DSN", "value": "pg://$(DB_SERVICE_HOST):5432"}]}
    env = dict(container_env(pod(), c, source))
    assert env["DSN"] == "pg://10.96.0.20:5432"
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
    off = dict(container_env(pod(enableServiceLinks=False), c, source))
    assert "DB_SERVICE_HOST" not in off
    assert off["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"  # the master service stays


def test_port_and_host_from_the_pod_unless_set() -> None:
    c = {"name": "app", "ports": [{"containerPort": 8080}, {"containerPort": 9090}]}
    env = dict(container_env(pod(), c, Source(), pod_ip="10.203.1.7"))
    assert env["PORT"] == "8080"
    assert env["HOST"] == "10.203.1.7"
    c["env"] = [{"name": "PORT", "value": "5000"}]
    assert dict(container_env(pod(), c, Source(), pod_ip="10.203.1.7"))["PORT"] == "5000"
    assert "PORT" not in dict(container_env(pod(), {"name": "x"}, Source()))


def test_resource_field_ref_divides_and_rounds_up() -> None:
    c = {
        "name": "app",
        "resources": {"limits": {"memory": "64Mi", "cpu": "250m"}},
        "env": [
            {
                "name": "MEM",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}},
            },
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
        ],
    }
    env = dict(container_env(pod(containers=[c]), c, Source()))
    assert env["MEM"] == "64"
    assert env["CPU"] == "1"


def test_command_and_args_expand_against_the_final_env() -> None:
    env = [("PORT", "8080"), ("NAME", "x")]
    assert expand_argv(["serve", "--port=$(PORT)", "$$(NAME)", "$(NOPE)"], env) == (
        "serve",
        "--port=8080",
        "$(NAME)",
        "$(NOPE)",
    )

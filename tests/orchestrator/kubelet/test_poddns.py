"""A pod's resolver settings from its dnsPolicy and dnsConfig, as the kubelet makes them."""

from __future__ import annotations

from typing import Any

from orchestrator.kubelet.poddns import parse_resolv_conf, pod_dns_config, sandbox_dns
from orchestrator.kubelet.runtimes.base import DNSConfig

HOST = DNSConfig(nameservers=("192.0.2.53",), searches=("corp.example",), options=("edns0",))
CLUSTER = ("10.96.0.10",)


def pod(namespace: str = "shop", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": namespace}, "spec": spec}


def test_cluster_first_names_the_cluster_dns_and_the_namespace_search_path() -> None:
    got = pod_dns_config(pod(), cluster_dns=CLUSTER, host=HOST)
    assert got == DNSConfig(
        nameservers=("10.96.0.10",),
        searches=("shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"),
        options=("ndots:5",),
    )


def test_host_network_pods_use_the_node_resolver_unless_asked_otherwise() -> None:
    assert pod_dns_config(pod(hostNetwork=True), cluster_dns=CLUSTER, host=HOST) == HOST
    got = pod_dns_config(
        pod(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet"), cluster_dns=CLUSTER, host=HOST
    )
    assert got.nameservers == CLUSTER


def test_without_a_cluster_dns_cluster_first_falls_back_to_the_node() -> None:
    assert pod_dns_config(pod(), host=HOST) == HOST


def test_default_policy_is_the_node_resolver_and_none_is_only_dns_config() -> None:
    assert pod_dns_config(pod(dnsPolicy="Default"), cluster_dns=CLUSTER, host=HOST) == HOST
    config = {
        "nameservers": ["1.1.1.1"],
        "searches": ["a.example"],
        "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}],
    }
    got = pod_dns_config(pod(dnsPolicy="None", dnsConfig=config), cluster_dns=CLUSTER, host=HOST)
    assert got == DNSConfig(("1.1.1.1",), ("a.example",), ("ndots:2", "edns0"))


def test_dns_config_adds_to_the_policy_and_overrides_options_by_name() -> None:
    config = {
        "nameservers": ["10.96.0.10", "192.0.2.1", "192.0.2.2", "192.0.2.3"],
        "searches": ["cluster.local", "extra.example"],
        "options": [{"name": "ndots", "value": "1"}, {"name": "single-request"}],
    }
    got = pod_dns_config(pod(dnsConfig=config), cluster_dns=CLUSTER)
    assert got.nameservers == ("10.96.0.10", "192.0.2.1", "192.0.2.2")  # at most three
    assert got.searches == (
        "shop.svc.cluster.local",
        "svc.cluster.local",
        "cluster.local",
        "extra.example",
    )
    assert got.options == ("ndots:1", "single-request")


def test_other_cluster_domain() -> None:
    got = pod_dns_config(pod("default"), cluster_dns=CLUSTER, cluster_domain="k8s.internal.")
    assert got.searches == ("default.svc.k8s.internal", "svc.k8s.internal", "k8s.internal")


def test_parse_resolv_conf() -> None:
    text = (
        "# generated\n"
        "domain old.example\n"
        "search corp.example lab.example\n"
        "nameserver 192.0.2.53\n"
        "nameserver 192.0.2.54 ; second\n"
        "options edns0 ndots:2\n"
    )
    assert parse_resolv_conf(text) == DNSConfig(
        ("192.0.2.53", "192.0.2.54"), ("corp.example", "lab.example"), ("edns0", "ndots:2")
    )


def test_the_runtime_keeps_its_own_default_where_the_pod_takes_the_node_resolver() -> None:
    # No cluster DNS (loopback mode) or dnsPolicy Default: the runtime is told nothing, so
    # Docker keeps filtering a loopback nameserver its containers could not reach.
    assert sandbox_dns(pod(), host=HOST) is None
    assert sandbox_dns(pod(dnsPolicy="Default"), cluster_dns=CLUSTER, host=HOST) is None
    assert sandbox_dns(pod(), cluster_dns=CLUSTER, host=HOST) == pod_dns_config(
        pod(), cluster_dns=CLUSTER, host=HOST
    )
    extra = {"nameservers": ["192.0.2.1"]}
    told = sandbox_dns(pod(dnsConfig=extra), host=HOST)
    assert told is not None and told.nameservers == ("192.0.2.53", "192.0.2.1")
    assert sandbox_dns(pod(dnsPolicy="None"), host=HOST) == DNSConfig()

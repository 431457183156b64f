"""Publishing the builder at git.<domain>: the objects ``paas up`` writes."""

from __future__ import annotations

from paas.up.gitroute import git_objects


def test_git_host_routes_to_the_builders_address_through_a_headless_service() -> None:
    service, endpoints, ingress = git_objects("http://127.0.0.1:41234", "example.test")
    assert service["spec"]["clusterIP"] == "None" and "selector" not in service["spec"]
    [subset] = endpoints["subsets"]
    assert subset["addresses"] == [{"ip": "127.0.0.1"}]
    assert subset["ports"][0]["port"] == 41234
    assert subset["ports"][0]["name"] == service["spec"]["ports"][0]["name"]
    [rule] = ingress["spec"]["rules"]
    assert rule["host"] == "git.example.test"
    assert ingress["spec"]["ingressClassName"] == "paas"
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": service["metadata"]["name"], "port": {"number": 80}}
    assert {o["metadata"]["namespace"] for o in (service, endpoints, ingress)} == {"kube-system"}

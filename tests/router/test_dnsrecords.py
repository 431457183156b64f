"""The DNS record table: which records a Service, its Endpoints and Pods make (pure, no I/O)."""

from __future__ import annotations

from typing import Any

from orchestrator.api.objects import Obj
from router.dnsrecords import ClusterRecords, Record, SRVData, reverse_name

BASE = "web.default.svc.cluster.local."


def service(name: str = "web", ns: str = "default", **spec: Any) -> Obj:
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


def endpoints(name: str = "web", ns: str = "default", *subsets: Obj) -> Obj:
    return {"metadata": {"name": name, "namespace": ns}, "subsets": list(subsets)}


def subset(ready: list[Obj], not_ready: list[Obj] | None = None, **ports: int) -> Obj:
    out: Obj = {
        "addresses": ready,
        "ports": [{"name": n, "port": p, "protocol": "TCP"} for n, p in ports.items()],
    }
    if not_ready:
        out["notReadyAddresses"] = not_ready
    return out


def pod_ref(ip: str, pod: str, ns: str = "default") -> Obj:
    return {"ip": ip, "targetRef": {"kind": "Pod", "name": pod, "namespace": ns}}


def values(table: ClusterRecords, name: str, rtype: str) -> list[Any]:
    return sorted((r.data for r in table.records(name, rtype)), key=str)


def test_cluster_ip_service_has_a_srv_for_named_ports_and_ptr() -> None:
    table = ClusterRecords()
    table.apply_service(
        service(
            clusterIP="10.96.0.20",
            clusterIPs=["10.96.0.20"],
            ports=[{"name": "http", "port": 80}, {"port": 81}],
        )
    )
    assert values(table, BASE, "A") == ["10.96.0.20"]
    assert values(table, BASE, "AAAA") == []
    assert values(table, "_http._TCP.web.default.svc.cluster.local.".lower(), "SRV") == [
        SRVData(0, 100, 80, BASE)
    ]
    assert table.records(reverse_name("10.96.0.20"), "PTR") == [
        Record("20.0.96.10.in-addr.arpa.", "PTR", BASE)
    ]
    # The unnamed port has no SRV record: nothing but _http exists under _tcp.
    assert not table.exists("_81._tcp.web.default.svc.cluster.local.")


def test_names_between_a_record_and_the_zone_exist_others_do_not() -> None:
    table = ClusterRecords()
    table.apply_service(service(clusterIP="10.96.0.20", ports=[{"name": "http", "port": 80}]))
    for name in (
        "cluster.local.",
        "svc.cluster.local.",
        "default.svc.cluster.local.",
        BASE,
        "_tcp.web.default.svc.cluster.local.",
    ):
        assert table.exists(name), name
    assert not table.exists("other.default.svc.cluster.local.")
    assert not table.exists("kube-system.svc.cluster.local.")
    table.remove_service(service())
    assert not table.exists(BASE)
    assert not table.exists("default.svc.cluster.local.")
    assert table.exists("dns-version.cluster.local.")


def test_headless_service_lists_ready_addresses_with_hostnames() -> None:
    table = ClusterRecords()
    table.apply_service(service(name="db", clusterIP="None", ports=[{"name": "pg", "port": 5432}]))
    table.apply_endpoints(
        endpoints(
            "db",
            "default",
            subset(
                [{"ip": "10.244.0.5", "hostname": "db-0"}, {"ip": "10.244.0.6"}],
                [{"ip": "10.244.0.7"}],
                pg=5433,
            ),
        )
    )
    base = "db.default.svc.cluster.local."
    assert values(table, base, "A") == ["10.244.0.5", "10.244.0.6"]
    assert values(table, f"db-0.{base}", "A") == ["10.244.0.5"]
    assert values(table, f"10-244-0-6.{base}", "A") == ["10.244.0.6"]
    assert not table.exists(f"10-244-0-7.{base}")
    assert values(table, f"_pg._tcp.{base}", "SRV") == [
        SRVData(0, 100, 5433, f"10-244-0-6.{base}"),
        SRVData(0, 100, 5433, f"db-0.{base}"),
    ]
    assert values(table, "5.0.244.10.in-addr.arpa.", "PTR") == [f"db-0.{base}"]


def test_headless_service_without_ready_endpoints_exists_with_no_records() -> None:
    table = ClusterRecords()
    table.apply_service(service(name="db", clusterIP="None"))
    table.apply_endpoints(endpoints("db", "default", subset([], [{"ip": "10.244.0.7"}])))
    assert table.exists("db.default.svc.cluster.local.")
    assert table.records("db.default.svc.cluster.local.", "A") == []


def test_publish_not_ready_addresses_makes_every_address_count() -> None:
    table = ClusterRecords()
    table.apply_service(service(name="db", clusterIP="None", publishNotReadyAddresses=True))
    table.apply_endpoints(endpoints("db", "default", subset([], [{"ip": "10.244.0.7"}])))
    assert values(table, "db.default.svc.cluster.local.", "A") == ["10.244.0.7"]


def test_pod_hostname_counts_only_when_its_subdomain_names_the_service() -> None:
    table = ClusterRecords()
    table.apply_service(service(name="db", clusterIP="None"))
    table.apply_endpoints(
        endpoints(
            "db",
            "default",
            subset([pod_ref("10.244.0.5", "db-a"), pod_ref("10.244.0.6", "db-b")]),
        )
    )
    table.apply_pod(
        {
            "metadata": {"name": "db-a", "namespace": "default"},
            "spec": {"hostname": "alpha", "subdomain": "db"},
        }
    )
    table.apply_pod(
        {
            "metadata": {"name": "db-b", "namespace": "default"},
            "spec": {"hostname": "beta", "subdomain": "other"},
        }
    )
    base = "db.default.svc.cluster.local."
    assert values(table, f"alpha.{base}", "A") == ["10.244.0.5"]
    assert not table.exists(f"beta.{base}")
    assert values(table, f"10-244-0-6.{base}", "A") == ["10.244.0.6"]
    table.remove_pod({"metadata": {"name": "db-a", "namespace": "default"}})
    assert not table.exists(f"alpha.{base}")
    assert values(table, f"10-244-0-5.{base}", "A") == ["10.244.0.5"]


def test_external_name_service_is_a_cname() -> None:
    table = ClusterRecords()
    table.apply_service(service(type="ExternalName", externalName="db.example.com"))
    assert values(table, BASE, "CNAME") == ["db.example.com."]
    assert values(table, BASE, "A") == []


def test_generation_moves_only_when_records_change() -> None:
    table = ClusterRecords()
    table.apply_service(service(clusterIP="10.96.0.20"))
    before = table.generation
    table.apply_service(service(clusterIP="10.96.0.20"))  # a resync or a label change
    table.apply_pod({"metadata": {"name": "p", "namespace": "default"}, "spec": {}})
    assert table.generation == before
    table.apply_service(service(clusterIP="10.96.0.21"))
    assert table.generation > before
    assert values(table, BASE, "A") == ["10.96.0.21"]
    assert table.records(reverse_name("10.96.0.20"), "PTR") == []


def test_other_cluster_domain_and_dual_stack() -> None:
    table = ClusterRecords("Example.Internal")
    table.apply_service(
        service(clusterIP="10.96.0.20", clusterIPs=["10.96.0.20", "fd00:10:96::20"])
    )
    base = "web.default.svc.example.internal."
    assert values(table, base, "A") == ["10.96.0.20"]
    assert values(table, base, "AAAA") == ["fd00:10:96::20"]
    assert table.records(reverse_name("fd00:10:96::20"), "PTR")[0].data == base

"""The rule text the proxy writes, from Services and Endpoints: tables of cases."""

from __future__ import annotations

import pytest
from support.iptables import assert_kernel_accepts

from orchestrator.api.objects import Obj
from orchestrator.proxy import rules
from orchestrator.proxy.rules import Endpoint, ServicePort


def service(name: str, ip: str, *ports: Obj, affinity: Obj | None = None) -> Obj:
    spec: Obj = {"clusterIP": ip, "ports": list(ports)}
    if affinity is not None:
        spec.update(affinity)
    return {"metadata": {"name": name, "namespace": "default"}, "spec": spec}


def endpoints(name: str, *subsets: Obj) -> Obj:
    return {"metadata": {"name": name, "namespace": "default"}, "subsets": list(subsets)}


WEB = service("web", "10.96.0.5", {"name": "http", "port": 80, "nodePort": 30080})
WEB_EPS = endpoints(
    "web",
    {
        "addresses": [{"ip": "10.205.1.3"}, {"ip": "10.205.1.2"}],
        "notReadyAddresses": [{"ip": "10.205.1.9"}],
        "ports": [{"name": "http", "port": 8000, "protocol": "TCP"}],
    },
)


@pytest.mark.parametrize(
    ("svc", "eps", "expected"),
    [
        pytest.param(
            WEB,
            WEB_EPS,
            [
                ServicePort(
                    "default",
                    "web",
                    "http",
                    "TCP",
                    "10.96.0.5",
                    80,
                    30080,
                    0,
                    (Endpoint("10.205.1.2", 8000), Endpoint("10.205.1.3", 8000)),
                )
            ],
            id="ready addresses sorted, not-ready left out",
        ),
        pytest.param(
            WEB,
            None,
            [ServicePort("default", "web", "http", "TCP", "10.96.0.5", 80, 30080)],
            id="no Endpoints object: no endpoints",
        ),
        pytest.param(service("h", "None", {"port": 80}), None, [], id="headless: nothing"),
        pytest.param(service("n", "", {"port": 80}), None, [], id="no cluster IP yet: nothing"),
        pytest.param(
            service("dns", "10.96.0.10", {"name": "dns", "port": 53, "protocol": "UDP"}),
            endpoints(
                "dns",
                {
                    "addresses": [{"ip": "10.205.1.4"}],
                    "ports": [{"name": "dns", "port": 5353, "protocol": "UDP"}],
                },
            ),
            [
                ServicePort(
                    "default",
                    "dns",
                    "dns",
                    "UDP",
                    "10.96.0.10",
                    53,
                    endpoints=(Endpoint("10.205.1.4", 5353),),
                )
            ],
            id="UDP port",
        ),
        pytest.param(
            service("a", "10.96.0.6", {"port": 80}, affinity={"sessionAffinity": "ClientIP"}),
            endpoints("a", {"addresses": [{"ip": "10.205.1.2"}], "ports": [{"port": 8080}]}),
            [
                ServicePort(
                    "default",
                    "a",
                    "",
                    "TCP",
                    "10.96.0.6",
                    80,
                    0,
                    10800,
                    (Endpoint("10.205.1.2", 8080),),
                )
            ],
            id="ClientIP affinity, default timeout, unnamed port",
        ),
        pytest.param(
            service(
                "b",
                "10.96.0.7",
                {"port": 80},
                affinity={
                    "sessionAffinity": "ClientIP",
                    "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
                },
            ),
            endpoints(
                "b",
                {"addresses": [{"ip": "10.205.1.2"}], "ports": [{"name": "other", "port": 8080}]},
            ),
            [ServicePort("default", "b", "", "TCP", "10.96.0.7", 80, 0, 60)],
            id="affinity timeout; endpoint port of another name does not count",
        ),
    ],
)
def test_service_ports(svc: Obj, eps: Obj | None, expected: list[ServicePort]) -> None:
    assert rules.service_ports([svc], [eps] if eps else []) == expected


def lines_of(text: str, table: str) -> list[str]:
    block = text.split(f"*{table}\n", 1)[1].split("COMMIT", 1)[0]
    return block.splitlines()


TWO = ServicePort(
    "default",
    "web",
    "http",
    "TCP",
    "10.96.0.5",
    80,
    30080,
    0,
    (Endpoint("10.205.1.2", 8000), Endpoint("10.205.1.3", 8000), Endpoint("10.205.1.4", 8000)),
)
EMPTY = ServicePort("default", "gone", "", "UDP", "10.96.0.8", 53, 30053)


def test_round_robin_probabilities_decrease_and_last_is_unconditional() -> None:
    nat = lines_of(rules.restore_text([TWO]), "nat")
    svc = rules.svc_chain(TWO)
    picks = [line for line in nat if line.startswith(f"-A {svc} ")]
    assert "--probability 0.3333333333" in picks[0]
    assert "--probability 0.5000000000" in picks[1]
    assert picks[2] == f"-A {svc} -j {rules.sep_chain(TWO, TWO.endpoints[2])}"
    dnats = [line for line in nat if "DNAT" in line]
    assert [d.rsplit(" ", 1)[1] for d in dnats] == [f"{e.ip}:8000" for e in TWO.endpoints]


def test_cluster_ip_and_node_port_jump_to_the_service_chain() -> None:
    nat = lines_of(rules.restore_text([TWO]), "nat")
    svc = rules.svc_chain(TWO)
    assert any(
        line.startswith("-A PAAS-SERVICES -d 10.96.0.5/32 -p tcp -m tcp --dport 80 ")
        and line.endswith(f"-j {svc}")
        for line in nat
    )
    node = [line for line in nat if line.startswith("-A PAAS-NODEPORTS ")]
    assert [n.rsplit(" ", 1)[1] for n in node] == ["PAAS-MARK-MASQ", svc]
    assert nat[-1].startswith("-A PAAS-SERVICES -m addrtype --dst-type LOCAL")


def test_affinity_checks_come_before_round_robin_and_endpoints_record_clients() -> None:
    sticky = ServicePort("default", "s", "", "TCP", "10.96.0.9", 80, 0, 60, TWO.endpoints)
    nat = lines_of(rules.restore_text([sticky]), "nat")
    svc = rules.svc_chain(sticky)
    picks = [line for line in nat if line.startswith(f"-A {svc} ")]
    assert all("--rcheck --seconds 60 --reap" in p for p in picks[:3])
    assert "statistic" in picks[3]
    assert all("--set" in line for line in nat if "DNAT" in line)


def test_no_endpoints_rejected_in_filter_not_programmed_in_nat() -> None:
    text = rules.restore_text([EMPTY])
    assert not any("10.96.0.8" in line for line in lines_of(text, "nat"))
    rejects = lines_of(text, "filter")[1:]
    assert len(rejects) == 2
    assert all(r.endswith("-j REJECT --reject-with icmp-port-unreachable") for r in rejects)
    assert "--dport 30053" in rejects[1] and "addrtype --dst-type LOCAL" in rejects[1]
    tcp = ServicePort("default", "t", "", "TCP", "10.96.0.11", 80)
    assert lines_of(rules.restore_text([tcp]), "filter")[-1].endswith("--reject-with tcp-reset")


def test_the_rest_of_the_service_range_is_refused_last() -> None:
    filt = lines_of(rules.restore_text([TWO, EMPTY], service_cidr="10.96.0.0/16"), "filter")
    assert "10.96.0.8" in filt[1]  # the service's own refusal comes first
    assert filt[-2].startswith("-A PAAS-SERVICES -d 10.96.0.0/16 -p tcp")
    assert filt[-2].endswith("-j REJECT --reject-with tcp-reset")
    assert filt[-1].startswith("-A PAAS-SERVICES -d 10.96.0.0/16 -m comment")
    assert filt[-1].endswith("-j REJECT --reject-with icmp-port-unreachable")
    assert not any("10.96.0.0/16" in line for line in lines_of(rules.restore_text([TWO]), "filter"))


def test_stale_chains_are_flushed_and_deleted() -> None:
    old = "PAAS-SVC-0000000000000000"
    text = rules.restore_text([TWO], existing_nat=[old, rules.svc_chain(TWO)])
    nat = lines_of(text, "nat")
    assert f":{old} - [0:0]" in nat and nat[-1] == f"-X {old}"
    assert f"-X {rules.svc_chain(TWO)}" not in nat


def test_chains_in_and_cleanup_text() -> None:
    save = (
        "*nat\n:PREROUTING ACCEPT [0:0]\n:PAAS-SERVICES - [0:0]\nCOMMIT\n"
        "*filter\n:PAAS-SERVICES - [0:0]\nCOMMIT\n"
    )
    found = rules.chains_in(save)
    assert found == {"nat": ["PAAS-SERVICES"], "filter": ["PAAS-SERVICES"]}
    text = rules.cleanup_text(found["nat"], found["filter"])
    assert "-X PAAS-SERVICES" in lines_of(text, "nat")
    assert rules.cleanup_text([], []) == ""


@pytest.mark.root
def test_the_kernel_accepts_the_text() -> None:
    sticky = ServicePort("default", "s", "", "TCP", "10.96.0.9", 80, 0, 60, TWO.endpoints)
    text = rules.restore_text(
        [TWO, EMPTY, sticky], cluster_cidr="10.244.0.0/16", service_cidr="10.96.0.0/16"
    )
    assert_kernel_accepts(text)

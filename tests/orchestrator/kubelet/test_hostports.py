"""The hostPort rules of the process runtime, as text and as the kernel takes them."""

from __future__ import annotations

import pytest
from support.iptables import assert_kernel_accepts

from orchestrator.kubelet import hostports
from orchestrator.kubelet.runtimes.base import PortMapping


def test_each_mapping_is_one_dnat_to_the_pod_and_localhost_is_masqueraded() -> None:
    dnat, masq = hostports.chains("node-a")
    text = hostports.restore_text(
        "node-a",
        "paasbr0",
        [
            ("10.244.0.3", PortMapping(8080, 18080)),
            ("10.244.0.4", PortMapping(53, 1053, "UDP", "192.0.2.7")),
        ],
    )
    lines = text.splitlines()
    assert lines[:3] == ["*nat", f":{dnat} - [0:0]", f":{masq} - [0:0]"]
    assert f"-A {dnat} -d 192.0.2.7/32 -p udp -m udp --dport 1053 " in lines[3]
    assert lines[3].endswith("-j DNAT --to-destination 10.244.0.4:53")
    assert lines[4] == (
        f"-A {dnat} -p tcp -m tcp --dport 18080 -j DNAT --to-destination 10.244.0.3:8080"
    )
    assert lines[5] == f"-A {masq} -s 127.0.0.0/8 -o paasbr0 -j MASQUERADE"
    assert lines[-1] == "COMMIT"


def test_nodes_have_chains_of_their_own_outside_the_proxys_prefix() -> None:
    a, b = hostports.chains("node-a"), hostports.chains("node-b")
    assert not set(a) & set(b)
    assert not any(chain.startswith("PAAS-") for chain in a + b)
    assert all(len(chain) <= 28 for chain in a)  # iptables' limit on chain names


@pytest.mark.root
def test_the_kernel_accepts_the_text() -> None:
    text = hostports.restore_text("node-a", "paasbr0", [("10.244.0.3", PortMapping(80, 18080))])
    assert_kernel_accepts(text)

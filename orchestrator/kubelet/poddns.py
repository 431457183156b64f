"""What a pod's resolv.conf says: Kubernetes' dnsPolicy and dnsConfig, pure.

``pod_dns_config(pod, cluster_dns=..., cluster_domain=..., host=...)`` gives
the ``DNSConfig`` the runtime writes (process runtime: a resolv.conf bound
over /etc/resolv.conf in the pod's mount namespace; Docker: the sandbox's
DNS settings), following the kubelet:

- ``ClusterFirst`` (the default): the cluster DNS as the only nameserver,
  searches ``<ns>.svc.<zone> svc.<zone> <zone>`` then the node's own, and
  ``ndots:5`` so that ``web`` and ``web.other`` are tried as cluster names
  first. A pod on the host network gets ``Default`` instead, as does any pod
  when the node knows no cluster DNS (loopback mode: pods find services
  through the ``<SVC>_SERVICE_HOST`` variables).
- ``ClusterFirstWithHostNet``: ``ClusterFirst`` even on the host network.
- ``Default``: the node's own resolv.conf (``host``).
- ``None``: nothing but the pod's ``dnsConfig``.

``dnsConfig`` then adds its nameservers and searches (duplicates dropped)
and its options (a pod's option replaces the same-named one). Kubernetes'
limits apply: 3 nameservers, 32 search domains. ``parse_resolv_conf`` reads
the node's file into the same shape.
"""

from __future__ import annotations

from orchestrator.api.objects import Obj, metadata_of
from orchestrator.kubelet.runtimes.base import DNSConfig

MAX_NAMESERVERS = 3
MAX_SEARCHES = 32
NDOTS = "ndots:5"


def parse_resolv_conf(text: str) -> DNSConfig:
    """The nameservers, searches and options of a resolv.conf (the last search line wins)."""
    nameservers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split(";", 1)[0].split()
        if not fields:
            continue
        key, values = fields[0], fields[1:]
        if key == "nameserver" and values:
            nameservers.append(values[0])
        elif key in ("search", "domain"):
            searches = list(values)
        elif key == "options":
            options.extend(values)
    return DNSConfig(tuple(nameservers), tuple(searches), tuple(options))


def cluster_searches(namespace: str, cluster_domain: str) -> tuple[str, ...]:
    zone = cluster_domain.strip(".")
    return (f"{namespace}.svc.{zone}", f"svc.{zone}", zone)


def pod_dns_config(
    pod: Obj,
    *,
    cluster_dns: tuple[str, ...] = (),
    cluster_domain: str = "cluster.local",
    host: DNSConfig | None = None,
) -> DNSConfig:
    """The resolver settings the pod gets (see the module docstring for the rules)."""
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    host = host or DNSConfig()
    cluster = bool(cluster_dns) and (
        policy == "ClusterFirstWithHostNet"
        or (policy == "ClusterFirst" and not spec.get("hostNetwork"))
    )
    if cluster:
        namespace = str(metadata_of(pod).get("namespace") or "default")
        base = DNSConfig(
            nameservers=tuple(cluster_dns),
            searches=cluster_searches(namespace, cluster_domain) + tuple(host.searches),
            options=(NDOTS,),
        )
    elif policy == "None":
        base = DNSConfig()
    else:
        base = host
    return _merge(base, spec.get("dnsConfig"))


def sandbox_dns(
    pod: Obj,
    *,
    cluster_dns: tuple[str, ...] = (),
    cluster_domain: str = "cluster.local",
    host: DNSConfig | None = None,
) -> DNSConfig | None:
    """What the runtime is told, or None where the pod simply uses the node's resolver.

    None leaves the runtime's own default in place (Docker filters a
    loopback nameserver the container could not reach; the process runtime
    shows the node's file), which is what ``Default`` means.
    """
    spec = pod.get("spec") or {}
    config = pod_dns_config(pod, cluster_dns=cluster_dns, cluster_domain=cluster_domain, host=host)
    if (
        spec.get("dnsPolicy") != "None"
        and not spec.get("dnsConfig")
        and config == (host or DNSConfig())
    ):
        return None
    return config


def _merge(base: DNSConfig, extra: object) -> DNSConfig:
    nameservers = list(base.nameservers)
    searches = list(base.searches)
    options = {_option_name(o): o for o in base.options}
    if isinstance(extra, dict):
        for ns in extra.get("nameservers") or []:
            if str(ns) not in nameservers:
                nameservers.append(str(ns))
        for s in extra.get("searches") or []:
            if str(s) not in searches:
                searches.append(str(s))
        for o in extra.get("options") or []:
            if isinstance(o, dict) and o.get("name"):
                name = str(o["name"])
                value = o.get("value")
                options[name] = f"{name}:{value}" if value not in (None, "") else name
    return DNSConfig(
        nameservers=tuple(nameservers[:MAX_NAMESERVERS]),
        searches=tuple(dict.fromkeys(searches))[:MAX_SEARCHES],
        options=tuple(options.values()),
    )


def _option_name(option: str) -> str:
    return option.split(":", 1)[0]


def resolv_conf_text(dns: DNSConfig) -> str:
    """The pod's /etc/resolv.conf as its DNS config says (both runtimes write it)."""
    lines = [f"nameserver {server}" for server in dns.nameservers]
    if dns.searches:
        lines.append("search " + " ".join(dns.searches))
    if dns.options:
        lines.append("options " + " ".join(dns.options))
    return "\n".join(lines) + "\n"


def hosts_text(hostname: str, ip: str) -> str:
    """The pod's /etc/hosts: localhost, and its own name at its own address."""
    return f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{ip}\t{hostname}\n"

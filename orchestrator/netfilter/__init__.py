"""The node's packet filter plumbing, shared by every component that writes kernel rules.

Two components program netfilter on a node: the service proxy (cluster IPs
and NodePorts, ``orchestrator.proxy``) and the node agent (hostPorts of the
process runtime, ``orchestrator.kubelet.hostports``). Each owns its chains
and builds its own rules; what they share lives here, below both, so that
neither imports the other:

- ``iptables``: running iptables commands with one error type, an atomic
  ``iptables-restore --noflush`` that leaves every chain it does not name
  alone, and the fixed jump rules in built-in chains (``Jump``), inserted
  once and removed exactly;
- ``localnet``: ``route_localnet``, which lets 127.0.0.1:<port> be DNATed
  to a pod.

Nothing here knows Services, pods or chain names: callers pass them.
"""

"""Fixtures of the node agent's tests: ``kubelet_node`` runs a real agent per runtime."""

from support.kubelet import kubelet_node

__all__ = ["kubelet_node"]

"""Which tests may run side by side when ``make test`` spreads them over pytest-xdist workers.

``make test`` runs ``pytest -n N --dist loadgroup``: xdist sends each work
unit (an ``xdist_group``) whole to one worker. This plugin gives every test
its unit, in the workers only (a plain ``pytest`` run is unchanged):

- by default its file, so a module-scoped fixture is built once, on one
  worker, as in a serial run;
- ``NODE_NETWORK`` for a test that runs a service proxy: ``paas up``,
  ``paas node``, ``paas proxy`` or a proxier of its own. Root mode's
  proxy owns machine-wide state, its ``PAAS-*`` iptables chains (each proxy
  deletes the others' as stale) and the route of the service range; loopback
  mode's binds the 127.10/16 cluster IPs, the same in every API server. Two
  at once would break each other, so these tests run one after the other on
  one worker while the other workers take the rest. A test is put there when
  its module, or a module defining one of its fixtures, uses one of
  ``NODE_NETWORK_HELPERS`` (new tests of ``paas up`` join by themselves), or
  when it carries ``pytest.mark.xdist_group(NODE_NETWORK)`` (a test that
  starts ``paas proxy`` by hand).

Units are handed out in collection order (``--no-loadscope-reorder``), and the
order is: the node-network unit first (the longest: the serverless and push
tests are in it), then tests/e2e files, then the rest, so the short files fill
in at the end instead of one long unit starting last.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType
from typing import TypeVar

import pytest

T = TypeVar("T")

NODE_NETWORK = "node-network"
# The helpers that start a service proxy (paas up, paas node, a proxier over test backends).
NODE_NETWORK_HELPERS = ("support.paasup", "support.nodeprocess", "support.proxynet")


def _uses_helpers(module: ModuleType | None) -> bool:
    """Whether ``module`` holds something defined in one of ``NODE_NETWORK_HELPERS``."""
    if module is None:
        return False
    for value in vars(module).values():
        name = value.__name__ if isinstance(value, ModuleType) else getattr(value, "__module__", "")
        if name in NODE_NETWORK_HELPERS:
            return True
    return False


def _fixture_modules(item: pytest.Item) -> set[ModuleType]:
    info = getattr(item, "_fixtureinfo", None)
    found: set[ModuleType] = set()
    for defs in info.name2fixturedefs.values() if info else ():
        for fixturedef in defs:
            module = sys.modules.get(getattr(fixturedef.func, "__module__", ""))
            if module is not None:
                found.add(module)
    return found


def _group_of(item: pytest.Item) -> str:
    marked = item.get_closest_marker("xdist_group")
    if marked is not None:
        return str(marked.args[0] if marked.args else marked.kwargs.get("name", "default"))
    module = getattr(item, "module", None)
    if _uses_helpers(module) or any(_uses_helpers(m) for m in _fixture_modules(item)):
        return NODE_NETWORK
    return item.nodeid.split("::", 1)[0]  # its file


def _rank(group: str) -> int:
    if group == NODE_NETWORK:
        return 0
    return 1 if group.startswith("tests/e2e/") else 2


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the marks into node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput"):
        return  # the controller or a serial run: nothing to place
    groups: dict[str, str] = {}
    for item in items:
        group = _group_of(item)
        groups[item.nodeid] = group
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=lambda item: _rank(groups[item.nodeid]))  # stable: file order is kept


def worker_share(candidates: list[T]) -> list[T]:
    """This worker's part of ``candidates`` (all of them outside xdist).

    Tests pick free address ranges by looking at what the machine routes, then
    creating theirs: two workers looking at the same moment could pick the
    same one. Each worker takes every Nth candidate instead, so they never can.
    """
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    return candidates[int(worker) % count :: count] if count > 1 else candidates

"""Which tests may run side by side when ``make test`` spreads them over pytest-xdist workers.

``make test`` runs ``pytest -n N --dist loadgroup``. Each test belongs to a
work unit that one worker runs whole:

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

xdist's own ``loadgroup`` tells the controller a test's group by appending it
to the test's node id, which pytest 9.2 no longer lets a plugin change
(pytest-xdist issue 1386): the groups were silently dropped. So the
grouping is done here: the workers, which collect the tests, write each
test's unit to a file in a directory the controller names
(``pytest_configure_node``), and the controller's scheduler (a
``LoadScopeScheduling`` whose scope is that unit) reads it once every worker
has collected, before it hands out any work.

Units are handed out in collection order (``--no-loadscope-reorder``), and the
workers order it: the node-network unit first (the longest: the serverless and
push tests are in it), then tests/e2e files, then the rest, so the short files
fill in at the end instead of one long unit starting last.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

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


GROUPS_DIR = "paas_groups_dir"  # the key naming the directory in each worker's workerinput


_groups_dir = pytest.StashKey[Path]()


def _grouping(config: pytest.Config) -> bool:
    workers = config.getoption("numprocesses", None)
    return bool(workers) and config.getoption("dist", "") == "loadgroup"


@pytest.hookimpl(tryfirst=True)  # on every item, before -k or -m deselect some
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    workerinput = getattr(config, "workerinput", None)
    if not workerinput or GROUPS_DIR not in workerinput:
        return  # the controller or a serial run: nothing to place
    groups = {item.nodeid: _group_of(item) for item in items}
    items.sort(key=lambda item: _rank(groups[item.nodeid]))  # stable: file order is kept
    target = Path(workerinput[GROUPS_DIR]) / f"{workerinput['workerid']}.json"
    partial = target.with_suffix(".part")
    partial.write_text(json.dumps(groups))
    partial.rename(target)  # the controller never reads half a file


def pytest_configure(config: pytest.Config) -> None:
    if _grouping(config) and not hasattr(config, "workerinput"):
        config.stash[_groups_dir] = Path(tempfile.mkdtemp(prefix="paas-test-groups-"))


def pytest_unconfigure(config: pytest.Config) -> None:
    found = config.stash.get(_groups_dir, None)
    if found is not None:
        shutil.rmtree(found, ignore_errors=True)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    found = node.config.stash.get(_groups_dir, None)
    if found is not None:
        node.workerinput[GROUPS_DIR] = str(found)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    found = config.stash.get(_groups_dir, None)
    return None if found is None else _group_scheduling(config, log, found)


def _group_scheduling(config: pytest.Config, log: Any, groups_dir: Path) -> Any:
    from xdist.scheduler import LoadScopeScheduling  # only where xdist runs the tests

    class GroupScheduling(LoadScopeScheduling):  # type: ignore[misc]
        """Whole work units to one worker, the unit being the one the workers wrote down."""

        groups: dict[str, str] = {}

        def schedule(self) -> None:
            if not self.groups:
                for written in sorted(groups_dir.glob("*.json")):
                    self.groups = json.loads(written.read_text())
                    break  # every worker collected the same tests (xdist checks)
            super().schedule()

        def _split_scope(self, nodeid: str) -> str:
            # an older pytest lets xdist append "@group" to a marked test's id: look past it
            found = self.groups.get(nodeid) or self.groups.get(nodeid.rpartition("@")[0])
            return found or nodeid.split("::", 1)[0]

    return GroupScheduling(config, log)


def worker_share(candidates: list[T]) -> list[T]:
    """This worker's part of ``candidates`` (all of them outside xdist).

    Tests pick free address ranges by looking at what the machine routes, then
    creating theirs: two workers looking at the same moment could pick the
    same one. Each worker takes every Nth candidate instead, so they never can.
    """
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    return candidates[int(worker) % count :: count] if count > 1 else candidates

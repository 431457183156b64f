"""Session-wide fixtures: real engines started once for the whole run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.apiserver import RunningAPI, start_api, wipe_etcd
from support.engines import require_engine
from support.etcd import EtcdProcess, etcd_available

# Docker fixtures (docker_engine, stack_image, docker_runtimes, docker_runtime) for every test;
# which tests may share the machine when `make test` runs them on parallel workers.
pytest_plugins = ["support.parallel", "support.docker"]


@pytest.fixture(scope="session")
def etcd_endpoint() -> Iterator[str]:
    """ "127.0.0.1:<port>" of one etcd shared by the session; tests keep to their own keys."""
    require_engine("etcd", etcd_available(), "etcd not installed")
    etcd = EtcdProcess().start()
    try:
        yield etcd.endpoint
    finally:
        etcd.stop()


@pytest.fixture(params=["sqlite", pytest.param("etcd", marks=pytest.mark.etcd)])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningAPI]:
    """A running API server (TLS, token auth) on each store backend."""
    store = "sqlite"
    if request.param == "etcd":
        endpoint = request.getfixturevalue("etcd_endpoint")
        wipe_etcd(endpoint)
        store = f"etcd://{endpoint}"
    running = start_api(tmp_path / "api", store)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def sqlite_api(tmp_path: Path) -> Iterator[RunningAPI]:
    """A running API server on SQLite, for tests where the backend does not matter."""
    running = start_api(tmp_path / "api", "sqlite")
    try:
        yield running
    finally:
        running.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line naming how many tests were skipped and why (a run without root or engines)."""
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    reasons = Counter(_skip_reason(report) for report in skipped)
    said = "; ".join(f"{reason} ({count})" for reason, count in reasons.most_common())
    terminalreporter.write_line(f"skipped {len(skipped)} tests: {said}", yellow=True, bold=True)


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix("Skipped: ")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """A failed test that ran ``paas up`` shows what the platform saw: its pods and log's end."""
    # imported here: a name of support.paasup in this module would put every test that uses
    # its fixtures in the serial node-network group (support/parallel.py)
    from support.paasup import Up

    report = yield
    if report.failed and call.when == "call":
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, Up):
                report.sections.extend(value.post_mortem())
    return report

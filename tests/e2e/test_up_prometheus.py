"""A real Prometheus (Debian's package) scrapes every component ``paas up`` runs.

The test does what the README tells an admin to do: a token for a user in
``system:monitoring`` (``paas token create``), a Prometheus configuration
that reads ``DATA_DIR/metrics-targets.json`` (file_sd), sends the token and
verifies TLS with the cluster CA (the node agents with the bundle of their
own certificates), scraping every second. Every target must be up, and
PromQL for the API server's request rate must answer with data.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from support.engines import require_engine
from support.paasup import ROOT, start_up
from support.wait import wait_until

# every component of a process-runtime paas up (the registry runs only with Docker)
JOBS = {
    "apiserver",
    "dns",
    "controller-manager",
    "scheduler",
    "app-controller",
    "serving-controller",
    "autoscaler",
    "router",
    "builder",
    "node",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prometheus_config(data_dir: Path, token_file: Path) -> dict[str, Any]:
    """Two scrape configs over one targets file: CA-signed components, and the node agents."""
    common = {
        "file_sd_configs": [
            {"files": [str(data_dir / "metrics-targets.json")], "refresh_interval": "1s"}
        ],
        "authorization": {"credentials_file": str(token_file)},
    }
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "paas",
                **common,
                "tls_config": {"ca_file": str(data_dir / "ca.crt")},
                "relabel_configs": [{"source_labels": ["job"], "regex": "node", "action": "drop"}],
            },
            {
                "job_name": "paas-nodes",
                **common,
                "tls_config": {"ca_file": str(data_dir / "metrics" / "nodes-ca.crt")},
                "relabel_configs": [{"source_labels": ["job"], "regex": "node", "action": "keep"}],
            },
        ],
    }


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def test_prometheus_scrapes_every_component_and_answers_the_api_request_rate(
    tmp_path: Path,
) -> None:
    binary = shutil.which("prometheus")
    require_engine("prometheus", binary is not None, "Debian's prometheus package is missing")
    assert binary is not None
    data_dir = tmp_path / "paas"
    with start_up(data_dir, "process", "--network", "loopback") as up:
        token = subprocess.run(
            [
                sys.executable,
                "-m",
                "paas",
                "token",
                "create",
                "--user",
                "prometheus",
                "--group",
                "system:monitoring",
                "--data-dir",
                str(data_dir),
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.strip()
        token_file = tmp_path / "prometheus.token"
        token_file.write_text(token + "\n")
        token_file.chmod(0o600)
        targets = data_dir / "metrics-targets.json"

        def jobs_listed() -> set[str]:
            listed = json.loads(targets.read_text()) if targets.exists() else []
            return {group["labels"]["job"] for group in listed}

        wait_until(lambda: jobs_listed() >= JOBS, 30, f"targets file: {jobs_listed()}")
        config = tmp_path / "prometheus.yml"
        config.write_text(yaml.safe_dump(prometheus_config(data_dir, token_file)))
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        with open(tmp_path / "prometheus.log", "wb") as log:
            prometheus = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:

            def target_health() -> dict[str, str]:
                try:
                    active = _get(base + "/api/v1/targets")["data"]["activeTargets"]
                except OSError:
                    return {}
                return {t["labels"]["job"]: t["health"] + " " + t["lastError"] for t in active}

            def all_up() -> bool:
                health = target_health()
                return set(health) >= JOBS and all(h == "up " for h in health.values())

            wait_until(all_up, 30, f"targets: {target_health()} {up.log()[-2000:]}")

            def query(promql: str) -> list[Any]:
                path = f"{base}/api/v1/query?query={urllib.parse.quote(promql)}"
                return list(_get(path)["data"]["result"])

            result = wait_until(
                lambda: query("sum(rate(apiserver_request_total[1m]))"),
                20,
                "no apiserver_request_total rate",
            )
            assert float(result[0]["value"][1]) > 0
            ups = query("up")
            assert {r["metric"]["job"] for r in ups} >= JOBS
            assert all(r["value"][1] == "1" for r in ups)
            # every process reports its own resources; each component its own series
            assert {r["metric"]["job"] for r in query("process_cpu_seconds_total")} >= JOBS
            for promql in (
                'etcd_request_duration_seconds_count{job="apiserver"}',
                'workqueue_adds_total{job="controller-manager",name="endpoint"}',
                'scheduler_pending_pods{job="scheduler",queue="active"}',
                'kubelet_running_pods{job="node"}',
                'kubeproxy_sync_proxy_rules_last_timestamp_seconds{job="node"}',
                'apiserver_storage_objects{job="apiserver",resource="namespaces"}',
            ):
                assert query(promql), promql
        finally:
            prometheus.terminate()
            try:
                prometheus.wait(15)
            except subprocess.TimeoutExpired:
                prometheus.kill()
                prometheus.wait(5)

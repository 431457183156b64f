"""``metrics-targets.json``: Prometheus' file_sd list of what paas up runs, kept current."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography import x509

from orchestrator import pki
from paas.up.metricstargets import MetricsTargets, address_file, metrics_flags
from paas.up.settings import UpSettings


async def test_targets_list_the_api_server_and_each_component_that_wrote_its_url(
    tmp_path: Path,
) -> None:
    settings = UpSettings(data_dir=tmp_path)
    targets = MetricsTargets(settings)
    scheduler = address_file(settings, "scheduler")
    scheduler.parent.mkdir(parents=True)
    scheduler.write_text("https://127.0.0.1:41001\n")
    await targets.refresh("https://127.0.0.1:6443", None)
    assert json.loads((tmp_path / "metrics-targets.json").read_text()) == [
        {
            "targets": ["127.0.0.1:6443"],
            "labels": {"job": "apiserver", "__scheme__": "https", "__metrics_path__": "/metrics"},
        },
        {
            "targets": ["127.0.0.1:41001"],
            "labels": {"job": "scheduler", "__scheme__": "https", "__metrics_path__": "/metrics"},
        },
    ]
    scheduler.write_text("https://127.0.0.1:41002\n")  # restarted on another port
    await targets.refresh("https://127.0.0.1:6443", None)
    listed = json.loads((tmp_path / "metrics-targets.json").read_text())
    assert listed[1]["targets"] == ["127.0.0.1:41002"]


def test_components_get_a_metrics_certificate_signed_by_the_cluster_ca(tmp_path: Path) -> None:
    settings = UpSettings(data_dir=tmp_path)
    assert "--metrics-cert" not in metrics_flags(settings, "dns")  # no CA key: self-signed
    ca = pki.ensure_ca(tmp_path)
    flags = metrics_flags(settings, "dns")
    assert flags[:4] == ["--metrics-port", "0", "--metrics-host", "127.0.0.1"]
    cert_file = Path(flags[flags.index("--metrics-cert") + 1])
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    issuer = x509.load_pem_x509_certificate(ca.cert.read_bytes()).subject
    assert cert.issuer == issuer

"""``paas apply`` meets fields another manager owns: listed readably, taken by --force-conflicts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from support.apiserver import RunningAPI

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  greeting: {greeting}
  colour: {colour}
"""


def paas(api: RunningAPI, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paas", *args, "--kubeconfig", str(api.kubeconfig)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=api.data_dir,
    )


def test_conflicting_fields_are_listed_with_owners_and_force_takes_them(
    sqlite_api: RunningAPI, tmp_path: Path
) -> None:
    with sqlite_api.http() as http:
        created = http.post(
            "/api/v1/namespaces/default/configmaps",
            params={"fieldManager": "ops-bot"},
            json={"metadata": {"name": "settings"}, "data": {"greeting": "hi", "colour": "red"}},
        )
        assert created.status_code == 201, created.text
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(CONFIGMAP.format(greeting="hello", colour="blue"))

    refused = paas(sqlite_api, "apply", "-f", str(manifest))
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f'error: configmap/settings from "{manifest}": 2 fields managed by others, '
        "nothing changed:",
        '  .data.colour    owned by "ops-bot" using v1',
        '  .data.greeting  owned by "ops-bot" using v1',
        "To take them over, apply again with --force-conflicts; to leave them to their owners, "
        "remove them from the manifest; to share them, set them to the live values.",
    ]

    forced = paas(sqlite_api, "apply", "--force-conflicts", "-f", str(manifest))
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout == "configmap/settings configured\n"

    shown = paas(sqlite_api, "get", "configmap", "settings", "-o", "yaml", "--show-managed-fields")
    obj = yaml.safe_load(shown.stdout)
    assert obj["data"] == {"greeting": "hello", "colour": "blue"}
    owners = {e["manager"]: e for e in obj["metadata"]["managedFields"]}
    assert owners["paas"]["fieldsV1"] == {"f:data": {"f:colour": {}, "f:greeting": {}}}
    hidden = yaml.safe_load(paas(sqlite_api, "get", "configmap", "settings", "-o", "yaml").stdout)
    assert "managedFields" not in hidden["metadata"]

"""Custom resources with the real kubectl, on both stores: a CRD using every feature.

One CronTab definition carries defaults, pruning, each kind of schema check,
CEL rules (one a transition rule), printer columns (one only in ``-o wide``),
a short name, a category, and the status and scale subresources. The tests
walk through it as a platform engineer would: apply the CRD, wait for it to
be established, then apply, get, explain, scale, patch and delete objects.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from support.apiserver import RunningAPI
from support.wait import wait_until

pytestmark = pytest.mark.kubectl

Kubectl = Callable[..., subprocess.CompletedProcess[str]]

CRONTAB_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    shortNames: [ct]
    categories: [stable]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
        labelSelectorPath: .status.selector
    additionalPrinterColumns:
    - name: Spec
      type: string
      jsonPath: .spec.cronSpec
      description: The cron spec defining the interval a CronJob is run
    - name: Replicas
      type: integer
      jsonPath: .spec.replicas
    - name: Size
      type: string
      jsonPath: .spec.size
      priority: 1
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        description: A CronTab runs a command on a schedule.
        properties:
          spec:
            type: object
            description: What the CronTab runs and how often.
            required: [cronSpec]
            x-kubernetes-validations:
            - rule: self.replicas <= self.maxReplicas
              message: replicas may not exceed maxReplicas
            properties:
              cronSpec:
                type: string
                description: The schedule, in cron format.
                pattern: '^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'
              image:
                type: string
                maxLength: 40
              replicas:
                type: integer
                minimum: 0
                maximum: 10
                default: 1
              maxReplicas:
                type: integer
                default: 5
              size:
                type: string
                enum: [small, medium, large]
                default: small
              owner:
                type: string
                x-kubernetes-validations:
                - rule: self == oldSelf
                  message: owner is immutable
              tags:
                type: array
                maxItems: 3
                x-kubernetes-list-type: set
                items: {type: string}
              port:
                x-kubernetes-int-or-string: true
              extra:
                type: object
                x-kubernetes-preserve-unknown-fields: true
          status:
            type: object
            properties:
              replicas: {type: integer}
              selector: {type: string}
              lastScheduleTime: {type: string, format: date-time}
"""

CRONTAB = """\
apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: nightly
spec:
  cronSpec: "0 3 * * *"
  image: backup:1
  replicas: 2
  owner: ops
  unknownField: dropped
  extra: {anything: [1, 2], goes: here}
"""


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def rows(output: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split() for line in output.splitlines()[1:] if line.strip()}


def get_json(api: RunningAPI, path: str) -> dict:
    with api.http() as http:
        r = http.get(path)
    assert r.status_code == 200, r.text
    return r.json()


CT_PATH = "/apis/stable.example.com/v1/namespaces/default/crontabs"
CLEAN = CRONTAB.replace("  unknownField: dropped\n", "")


def establish(kubectl: Kubectl, tmp_path: Path, text: str = CRONTAB_CRD) -> None:
    kubectl("apply", "-f", write(tmp_path / "crd.yaml", text))
    kubectl(
        "wait",
        "--for",
        "condition=established",
        "--timeout=10s",
        "crd/crontabs.stable.example.com",
    )


def test_a_crd_serves_its_kind_with_defaults_pruning_columns_and_subresources(
    api: RunningAPI, kubectl: Kubectl, tmp_path: Path
) -> None:
    establish(kubectl, tmp_path)

    resources = kubectl("api-resources", "--api-group", "stable.example.com").stdout
    line = rows(resources)["crontabs"]
    assert line[1:] == ["ct", "stable.example.com/v1", "true", "CronTab"]

    # kubectl's default is strict field validation: an unknown field is refused, as Kubernetes
    strict = kubectl("apply", "-f", write(tmp_path / "ct.yaml", CRONTAB), check=False)
    assert strict.returncode != 0
    assert (
        'CronTab in version "v1" cannot be handled as a CronTab: strict decoding error: '
        'unknown field "spec.unknownField"'
    ) in strict.stderr
    applied = kubectl("apply", "--validate=warn", "-f", write(tmp_path / "ct.yaml", CRONTAB))
    assert "crontab.stable.example.com/nightly created" in applied.stdout
    assert 'unknown field "spec.unknownField"' in applied.stderr

    stored = get_json(api, f"{CT_PATH}/nightly")
    assert "unknownField" not in stored["spec"]  # pruned
    assert stored["spec"]["extra"] == {"anything": [1, 2], "goes": "here"}  # preserved
    assert stored["spec"]["size"] == "small"  # defaulted
    assert stored["spec"]["maxReplicas"] == 5
    assert stored["metadata"]["generation"] == 1
    assert "status" not in stored

    # columns, the short name, the category, and the wide column
    out = kubectl("get", "ct").stdout
    assert out.splitlines()[0].split() == ["NAME", "SPEC", "REPLICAS", "AGE"]
    assert rows(out)["nightly"][1:6] == ["0", "3", "*", "*", "*"]
    assert rows(out)["nightly"][6] == "2"
    wide = kubectl("get", "crontabs", "-o", "wide").stdout
    assert wide.splitlines()[0].split() == ["NAME", "SPEC", "REPLICAS", "SIZE", "AGE"]
    assert "nightly" in kubectl("get", "stable").stdout

    # scale: through the spec path; generation moves
    kubectl("scale", "ct/nightly", "--replicas=4")
    scaled = get_json(api, f"{CT_PATH}/nightly")
    assert scaled["spec"]["replicas"] == 4
    assert scaled["metadata"]["generation"] == 2
    scale = get_json(api, f"{CT_PATH}/nightly/scale")
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 4

    # status: only through /status, and it does not move the generation
    kubectl(
        "patch",
        "ct",
        "nightly",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status": {"replicas": 4, "selector": "app=nightly"}}',
    )
    after = get_json(api, f"{CT_PATH}/nightly")
    assert after["status"] == {"replicas": 4, "selector": "app=nightly"}
    assert after["metadata"]["generation"] == 2
    kubectl("patch", "ct", "nightly", "--type=merge", "-p", '{"status": {"replicas": 9}}')
    assert get_json(api, f"{CT_PATH}/nightly")["status"]["replicas"] == 4  # main ignores status
    assert get_json(api, f"{CT_PATH}/nightly/scale")["status"]["selector"] == "app=nightly"

    # strategic merge (kubectl patch's default) is refused as Kubernetes does; merge works
    refused = kubectl("patch", "ct", "nightly", "-p", '{"spec": {"image": "b:2"}}', check=False)
    assert refused.returncode != 0
    assert "application/merge-patch+json" in refused.stderr
    kubectl("patch", "ct", "nightly", "--type=merge", "-p", '{"spec": {"image": "b:2"}}')
    kubectl(
        "patch",
        "ct",
        "nightly",
        "--type=json",
        "-p",
        '[{"op": "replace", "path": "/spec/size", "value": "large"}]',
    )
    assert get_json(api, f"{CT_PATH}/nightly")["spec"]["size"] == "large"

    # server-side apply: the image is kubectl-patch's now, so taking it needs --force-conflicts
    ssa = write(tmp_path / "ssa.yaml", CLEAN.replace("image: backup:1", "image: backup:3"))
    refused = kubectl("apply", "--server-side", "--field-manager=ops", "-f", ssa, check=False)
    assert 'conflicts with "kubectl-patch" using stable.example.com/v1:\n- .spec.image' in (
        refused.stderr
    )
    kubectl("apply", "--server-side", "--field-manager=ops", "--force-conflicts", "-f", ssa)
    assert get_json(api, f"{CT_PATH}/nightly")["spec"]["image"] == "backup:3"

    # explain reads the published OpenAPI schema
    explained = kubectl("explain", "crontab.spec").stdout
    assert "What the CronTab runs and how often." in explained
    assert "cronSpec" in explained and "The schedule, in cron format." in explained


def test_invalid_objects_get_every_error_at_once_and_nothing_is_stored(
    api: RunningAPI, kubectl: Kubectl, tmp_path: Path
) -> None:
    establish(kubectl, tmp_path)
    bad = """\
apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: bad
spec:
  image: a-very-long-image-name-that-goes-on-and-on:1
  replicas: 15
  size: huge
  tags: [a, b, c, d]
"""
    result = kubectl("apply", "-f", write(tmp_path / "bad.yaml", bad), check=False)
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert 'The CronTab "bad" is invalid: ' in lines
    assert "* spec.cronSpec: Required value" in lines
    assert (
        '* spec.size: Unsupported value: "huge": supported values: "small", "medium", "large"'
        in lines
    )
    assert (
        "* spec.replicas: Invalid value: 15: spec.replicas in body should be less than or "
        "equal to 10" in lines
    )
    assert "* spec.tags: Too many: 4: must have at most 3 items" in lines
    assert "* spec.image: Too long: may not be longer than 40" in lines

    # the Status itself, as every client gets it: one 422 with every cause
    with api.http() as http:
        r = http.post(CT_PATH, json=yaml.safe_load(bad))
        assert r.status_code == 422
        status = r.json()
        assert status["reason"] == "Invalid"
        assert status["message"].startswith('CronTab.stable.example.com "bad" is invalid: [')
        fields = {c["field"] for c in status["details"]["causes"]}
        assert {"spec.cronSpec", "spec.size", "spec.replicas", "spec.tags", "spec.image"} <= fields
        assert status["details"]["kind"] == "CronTab"
        assert status["details"]["group"] == "stable.example.com"
        assert http.get(f"{CT_PATH}/bad").status_code == 404

    # a CEL rule, in its own words; then a transition rule on update
    over = CLEAN.replace("replicas: 2", "replicas: 7")
    result = kubectl("apply", "-f", write(tmp_path / "over.yaml", over), check=False)
    assert result.returncode != 0
    assert "spec: Invalid value: " in result.stderr
    assert "replicas may not exceed maxReplicas" in result.stderr
    kubectl("apply", "-f", write(tmp_path / "ok.yaml", CLEAN))
    moved = CLEAN.replace("owner: ops", "owner: dev")
    result = kubectl("apply", "-f", write(tmp_path / "moved.yaml", moved), check=False)
    assert result.returncode != 0
    # Kubernetes 1.31 shows a scalar node's type, not its value, in a rule's message
    assert 'spec.owner: Invalid value: "string": owner is immutable' in result.stderr
    assert get_json(api, f"{CT_PATH}/nightly")["spec"]["owner"] == "ops"


def test_an_invalid_crd_is_refused_with_the_reason(
    api: RunningAPI, kubectl: Kubectl, tmp_path: Path
) -> None:
    untyped = CRONTAB_CRD.replace(
        "              image:\n                type: string\n                maxLength: 40\n",
        "              image:\n                maxLength: 40\n",
    )
    result = kubectl("apply", "-f", write(tmp_path / "crd.yaml", untyped), check=False)
    assert result.returncode != 0
    assert (
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[image].type: "
        "Required value: must not be empty for specified object fields"
    ) in result.stderr
    no_dot = CRONTAB_CRD.replace("stable.example.com", "stable")
    result = kubectl("apply", "-f", write(tmp_path / "crd2.yaml", no_dot), check=False)
    assert "should be a domain with at least one dot" in result.stderr
    with api.http() as http:
        names = [
            c["metadata"]["name"]
            for c in http.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions").json()[
                "items"
            ]
        ]
    assert names == []


def test_a_crd_claiming_a_taken_name_is_not_established_and_says_why(
    api: RunningAPI, kubectl: Kubectl, tmp_path: Path
) -> None:
    establish(kubectl, tmp_path)
    clash = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontasks.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: crontasks, kind: CronTask, shortNames: [ct]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""
    kubectl("apply", "-f", write(tmp_path / "clash.yaml", clash))

    def conditions() -> dict[str, dict]:
        crd = get_json(
            api,
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/crontasks.stable.example.com",
        )
        return {c["type"]: c for c in crd.get("status", {}).get("conditions", [])}

    found = wait_until(lambda: conditions() if "NamesAccepted" in conditions() else None)
    assert found["NamesAccepted"]["status"] == "False"
    assert found["NamesAccepted"]["reason"] == "ShortNamesConflict"
    assert found["NamesAccepted"]["message"] == '"ct" is already in use'
    assert found["Established"]["status"] == "False"
    assert found["Established"]["reason"] == "NotAccepted"
    with api.http() as http:
        assert http.get("/apis/stable.example.com/v1/crontasks").status_code == 404
    # the first CRD keeps its short name
    kubectl("apply", "-f", write(tmp_path / "ct.yaml", CLEAN))
    assert kubectl("get", "ct", "-o", "name").stdout.split() == [
        "crontab.stable.example.com/nightly"
    ]


def test_deleting_a_crd_deletes_its_objects_and_stops_serving_it(
    api: RunningAPI, kubectl: Kubectl, tmp_path: Path
) -> None:
    establish(kubectl, tmp_path)
    kubectl("apply", "-f", write(tmp_path / "ct.yaml", CLEAN))
    kubectl("create", "namespace", "other")
    kubectl("apply", "-n", "other", "-f", write(tmp_path / "ct2.yaml", CLEAN))
    out = kubectl("delete", "crd", "crontabs.stable.example.com", "--timeout=30s")
    assert (
        'customresourcedefinition.apiextensions.k8s.io "crontabs.stable.example.com" deleted'
        in out.stdout
    )
    with api.http() as http:
        assert http.get(CT_PATH).status_code == 404
        assert http.get("/apis/stable.example.com/v1").status_code == 404
        groups = http.get("/apis").json()["groups"]
    assert "stable.example.com" not in [g["name"] for g in groups]
    # created again, it starts empty: the objects went with it
    establish(kubectl, tmp_path)
    listed = json.loads(kubectl("get", "ct", "-A", "-o", "json").stdout)
    assert listed["items"] == []

"""Reading manifests: multi-document YAML, JSON, directories, errors with file and line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from paas.cli.manifests import ManifestError, read_manifests, split_documents

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


@pytest.mark.parametrize(
    ("text", "names", "lines"),
    [
        (CM.format(name="a"), ["a"], [1]),
        (CM.format(name="a") + "---\n" + CM.format(name="b"), ["a", "b"], [1, 6]),
        ("---\n" + CM.format(name="a") + "---\n---\n", ["a"], [2]),
        ("# only a comment\n", [], []),
        ("", [], []),
        (
            json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}}),
            ["j"],
            [1],
        ),
        (
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n"
            "  metadata: {name: x}\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: y}\n",
            ["x", "y"],
            [1, 1],
        ),
    ],
)
def test_split_documents(text: str, names: list[str], lines: list[int]) -> None:
    found = split_documents(text, "f.yaml")
    assert [m.obj["metadata"]["name"] for m in found] == names
    assert [m.line for m in found] == lines
    assert all(m.source == "f.yaml" for m in found)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n", "f.yaml:5"),
        ("a: b\n  c: d\n", "f.yaml:2"),
        ("- just\n- a list\n", "f.yaml:1: a manifest must be an object"),
        ("kind: ConfigMap\nmetadata: {name: x}\n", "missing apiVersion"),
        (
            CM.format(name="a") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
            "f.yaml:6: the object is missing metadata.name",
        ),
    ],
)
def test_split_documents_errors_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message.replace("[", r"\[")):
        split_documents(text, "f.yaml")


def test_read_manifests_from_directory_in_name_order_skipping_other_files(
    tmp_path: Path,
) -> None:
    (tmp_path / "b.yml").write_text(CM.format(name="b"))
    (tmp_path / "a.yaml").write_text(CM.format(name="a"))
    (tmp_path / "c.json").write_text(
        json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
    )
    (tmp_path / "README.md").write_text("not a manifest")
    found = read_manifests([str(tmp_path)])
    assert [m.obj["metadata"]["name"] for m in found] == ["a", "b", "c"]
    assert found[0].source == str(tmp_path / "a.yaml")


def test_read_manifests_from_stdin() -> None:
    found = read_manifests(["-"], stdin=io.StringIO(CM.format(name="s")))
    assert [(m.source, m.obj["metadata"]["name"]) for m in found] == [("STDIN", "s")]


def test_read_manifests_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="does not exist"):
        read_manifests([str(tmp_path / "nope.yaml")])

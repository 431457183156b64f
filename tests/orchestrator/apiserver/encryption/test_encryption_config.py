"""The EncryptionConfiguration file: accepted shapes and every refusal naming its field."""

from __future__ import annotations

import base64
import os
import stat

import pytest
import yaml

from orchestrator.apiserver.encryption.config import (
    EncryptionConfigError,
    ensure_default_config,
    load_config,
    parse_config,
)

KEY32 = base64.b64encode(b"k" * 32).decode()
KEY16 = base64.b64encode(b"k" * 16).decode()


def config(*rules: dict) -> dict:
    return {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": list(rules),
    }


def aesgcm(*names: str, secret: str = KEY32) -> dict:
    return {"aesgcm": {"keys": [{"name": n, "secret": secret} for n in names]}}


def test_a_full_configuration_maps_resources_to_storage_prefixes_most_specific_first():
    parsed = parse_config(
        config(
            {"resources": ["events"], "providers": [{"identity": {}}]},
            {
                "resources": ["secrets", "widgets.example.com", "*.apps"],
                "providers": [
                    aesgcm("k2", "k1"),
                    {"aescbc": {"keys": [{"name": "old", "secret": KEY16}]}},
                    {"identity": {}},
                ],
            },
        )
    )
    prefixes = [prefix for prefix, _ in parsed.by_prefix()]
    assert set(prefixes) == {
        "/registry/core/events/",
        "/registry/core/secrets/",
        "/registry/example.com/widgets/",
        "/registry/apps/",
    }
    assert prefixes[-1] == "/registry/apps/"
    assert parsed.rules[1].provider_names == ("aesgcm:k2", "aesgcm:k1", "aescbc:old", "identity")


def test_an_earlier_specific_rule_beside_a_later_wildcard_is_allowed():
    parsed = parse_config(
        config(
            {"resources": ["secrets"], "providers": [aesgcm("k1")]},
            {"resources": ["*."], "providers": [{"identity": {}}]},
        )
    )
    prefixes = dict(parsed.by_prefix())
    assert not prefixes["/registry/core/secrets/"].writes_plain
    assert prefixes["/registry/core/"].writes_plain


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            [{"resources": ["secrets"], "providers": [aesgcm("k1", secret=KEY32[:8])]}],
            'resources[0].providers[0].aesgcm.keys[0].secret: Invalid value: "REDACTED": '
            "secret is not of the expected length, got 6, expected one of [16 24 32]",
        ),
        (
            [{"resources": ["secrets"], "providers": [aesgcm("k1", secret="not base64!")]}],
            'resources[0].providers[0].aesgcm.keys[0].secret: Invalid value: "REDACTED": '
            "secrets must be base64 encoded",
        ),
        (
            [{"resources": ["secrets"], "providers": [{"rot13": {}}]}],
            "resources[0].providers[0]: Invalid value: 'rot13': provider does not contain any "
            "of the expected providers",
        ),
        (
            [{"resources": ["secrets"], "providers": [{"identity": {}, **aesgcm("k1")}]}],
            "resources[0].providers[0]: Invalid value: more than one provider specified in a "
            "single element",
        ),
        (
            [{"resources": ["secrets"], "providers": [{"secretbox": {"keys": []}}]}],
            "resources[0].providers[0].secretbox: Unsupported value",
        ),
        (
            [{"resources": ["secrets"], "providers": [aesgcm("k1", "k1")]}],
            'resources[0].providers[0].aesgcm.keys[1].name: Duplicate value: "k1"',
        ),
        (
            [{"resources": ["secrets"], "providers": [aesgcm("a:b")]}],
            'resources[0].providers[0].aesgcm.keys[0].name: Invalid value: "a:b"',
        ),
        (
            [{"resources": ["secrets"], "providers": [{"aesgcm": {"keys": []}}]}],
            "resources[0].providers[0].aesgcm.keys: Required value",
        ),
        (
            [
                {"resources": ["*."], "providers": [{"identity": {}}]},
                {"resources": ["secrets"], "providers": [aesgcm("k1")]},
            ],
            'resource "secrets" is masked by earlier rule "*."',
        ),
        (
            [
                {"resources": ["secrets"], "providers": [{"identity": {}}]},
                {"resources": ["secrets"], "providers": [aesgcm("k1")]},
            ],
            'resources[1].resources[0]: Duplicate value: "secrets"',
        ),
        (
            [{"resources": ["secrets", "*."], "providers": [aesgcm("k1")]}],
            'resources[0].resources[1]: Invalid value: "*.": using overlapping resources '
            "such as 'secrets' and '*.' in the same resource list",
        ),
        (
            [{"resources": ["*"], "providers": [aesgcm("k1")]}],
            "resources[0].resources[0]: Invalid value: \"*\": use '*.' to encrypt all",
        ),
        (
            [{"resources": ["secrets"]}],
            "resources[0].providers: Required value",
        ),
    ],
)
def test_a_bad_configuration_is_refused_naming_the_field(rules, message):
    with pytest.raises(EncryptionConfigError) as caught:
        parse_config(config(*rules))
    assert message in str(caught.value)


def test_a_file_of_another_kind_is_refused():
    with pytest.raises(EncryptionConfigError, match="kind and apiVersion must be"):
        parse_config({"apiVersion": "v1", "kind": "ConfigMap", "resources": []})


def test_the_default_configuration_is_made_once_0600_and_encrypts_secrets(tmp_path):
    path = tmp_path / "encryption.yaml"
    ensure_default_config(path)
    first = path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    ensure_default_config(path)
    assert path.read_text() == first  # kept: a new key would lose every Secret
    doc = yaml.safe_load(first)
    secret = doc["resources"][0]["providers"][0]["aesgcm"]["keys"][0]["secret"]
    assert len(base64.b64decode(secret)) == 32
    parsed = load_config(path)
    assert [p for p, _ in parsed.by_prefix()] == ["/registry/core/secrets/"]
    assert parsed.rules[0].provider_names == ("aesgcm:key1", "identity")


def test_paas_apiserver_refuses_a_bad_configuration_in_one_line_naming_the_field(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "encryption.yaml"
    bad.write_text(
        yaml.safe_dump(
            config({"resources": ["secrets"], "providers": [aesgcm("k1", secret=KEY16[:12])]})
        )
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "paas.cli.main",
            "apiserver",
            "--data-dir",
            str(tmp_path / "d"),
            "--port",
            "0",
            "--encryption-provider-config",
            str(bad),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "resources[0].providers[0].aesgcm.keys[0].secret: Invalid value" in result.stderr

"""The encryption configuration: ``apiserver.config.k8s.io/v1`` EncryptionConfiguration.

The file has Kubernetes' shape::

    apiVersion: apiserver.config.k8s.io/v1
    kind: EncryptionConfiguration
    resources:
    - resources: [secrets]               # resource[.group], *.group, *. (core), *.*
      providers:
      - aesgcm: {keys: [{name: k2, secret: <base64 of 16, 24 or 32 bytes>}, ...]}
      - aescbc: {keys: [...]}
      - identity: {}

Checked as Kubernetes checks it, every error with its field path: one
provider type per list element, keys named (no ``:``, the stored prefix ends
at one) and unique, secrets base64 of an AES key length, no resource named
twice and none masked by an earlier wildcard (an earlier ``*.`` makes a later
``secrets`` dead configuration). ``secretbox`` and ``kms`` are Kubernetes'
but not served here: they are refused by name rather than ignored.

Resources map onto storage prefixes (``/registry/<group or core>/<plural>/``,
``/registry/<group>/`` for ``*.group``, ``/registry/`` for ``*.*``); a key is
looked up longest prefix first, which for a valid file is "the earliest rule
that names it wins".
"""

from __future__ import annotations

import base64
import binascii
import secrets as random_secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orchestrator.apiserver.encryption.providers import (
    AESCBCKey,
    AESGCMKey,
    Chain,
    Identity,
    Provider,
)
from orchestrator.pki import write_private

API_VERSIONS = ("apiserver.config.k8s.io/v1", "apiserver.k8s.io/v1")
KIND = "EncryptionConfiguration"
AES_KEY_SIZES = (16, 24, 32)
_KNOWN = ("kms", "aesgcm", "aescbc", "secretbox", "identity")
_SERVED: dict[str, Callable[[str, bytes], Provider]] = {"aesgcm": AESGCMKey, "aescbc": AESCBCKey}


class EncryptionConfigError(ValueError):
    """The configuration file is unusable; the message names every bad field."""


@dataclass(frozen=True)
class Rule:
    resources: tuple[str, ...]  # as written: "secrets", "widgets.example.com", "*.apps"
    chain: Chain
    provider_names: tuple[str, ...]  # "aesgcm:k2", "identity": for logs and reports


@dataclass(frozen=True)
class EncryptionConfig:
    rules: tuple[Rule, ...]

    def by_prefix(self) -> list[tuple[str, Chain]]:
        """(storage prefix, chain), longest prefix first."""
        pairs = [(storage_prefix(r), rule.chain) for rule in self.rules for r in rule.resources]
        return sorted(pairs, key=lambda pair: len(pair[0]), reverse=True)


def storage_prefix(resource: str) -> str:
    """Where a configured ``resource[.group]`` (or wildcard) lives in the store."""
    name, _, group = resource.partition(".")
    if name == "*" and group == "*":
        return "/registry/"
    if name == "*":
        return f"/registry/{group or 'core'}/"
    return f"/registry/{group or 'core'}/{name}/"


def load_config(path: Path) -> EncryptionConfig:
    """Read and check the file; ``EncryptionConfigError`` says what is wrong."""
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise EncryptionConfigError(
            f"error reading encryption provider configuration file {str(path)!r}: {exc}"
        ) from exc
    except yaml.YAMLError as exc:
        raise EncryptionConfigError(f"error while parsing file {str(path)!r}: {exc}") from exc
    return parse_config(doc, str(path))


def parse_config(doc: Any, source: str = "<config>") -> EncryptionConfig:
    errs: list[str] = []
    if not isinstance(doc, dict):
        raise EncryptionConfigError(f"error while parsing file {source!r}: not a YAML mapping")
    if doc.get("kind") != KIND or doc.get("apiVersion") not in API_VERSIONS:
        errs.append(
            f"kind and apiVersion must be {KIND} and {API_VERSIONS[0]}, not "
            f"{doc.get('kind')!r} and {doc.get('apiVersion')!r}"
        )
    rules: list[Rule] = []
    entries = doc.get("resources")
    if not isinstance(entries, list) or not entries:
        errs.append("resources: Required value: resources is a required field")
        entries = []
    seen: dict[str, str] = {}  # resource -> field that named it first
    for i, entry in enumerate(entries):
        rule = _parse_rule(entry, f"resources[{i}]", seen, errs)
        if rule is not None:
            rules.append(rule)
    if errs:
        raise EncryptionConfigError(f"error while parsing file {source!r}: " + "; ".join(errs))
    return EncryptionConfig(tuple(rules))


def _parse_rule(entry: Any, where: str, seen: dict[str, str], errs: list[str]) -> Rule | None:
    if not isinstance(entry, dict):
        errs.append(f"{where}: Invalid value: must be a mapping with resources and providers")
        return None
    resources = entry.get("resources")
    names: list[str] = []
    if not isinstance(resources, list) or not resources:
        errs.append(f"{where}.resources: Required value: resources is a required field")
    else:
        names = _check_resources(resources, f"{where}.resources", seen, errs)
    providers = entry.get("providers")
    chain_entries: list[Provider] = []
    shown: list[str] = []
    if not isinstance(providers, list) or not providers:
        errs.append(f"{where}.providers: Required value: providers is a required field")
    else:
        for j, provider in enumerate(providers):
            made = _parse_provider(provider, f"{where}.providers[{j}]", errs)
            for label, item in made:
                chain_entries.append(item)
                shown.append(label)
    if errs or not chain_entries:
        return None
    return Rule(tuple(names), Chain(chain_entries), tuple(shown))


def _check_resources(
    resources: list[Any], where: str, seen: dict[str, str], errs: list[str]
) -> list[str]:
    names: list[str] = []
    for k, resource in enumerate(resources):
        field = f"{where}[{k}]"
        if not isinstance(resource, str) or not resource:
            errs.append(f"{field}: Invalid value: {resource!r}: must be a resource name")
            continue
        if resource == "*":
            errs.append(
                f"{field}: Invalid value: \"*\": use '*.' to encrypt all the resources from "
                "core API group or *.* to encrypt all resources"
            )
            continue
        if resource != resource.lower():
            errs.append(
                f'{field}: Invalid value: "{resource}": resource name should not contain any '
                "upper case characters"
            )
            continue
        if resource in seen:
            errs.append(f'{field}: Duplicate value: "{resource}"')
            continue
        name, _, group = resource.partition(".")
        if name == "*":  # a wildcard after a resource it covers, in the same list
            covered = [
                r
                for r, at in seen.items()
                if at.startswith(where) and (group == "*" or r.partition(".")[2] == group)
            ]
            if covered:
                errs.append(
                    f'{field}: Invalid value: "{resource}": using overlapping resources such '
                    f"as '{covered[0]}' and '{resource}' in the same resource list is not "
                    "allowed as they will be masked"
                )
                continue
        for wildcard in (f"*.{group}", "*.*"):
            if wildcard != resource and wildcard in seen:
                if seen[wildcard].startswith(where):  # the same list names both
                    errs.append(
                        f'{field}: Invalid value: "{resource}": using overlapping resources '
                        f"such as '{resource}' and '{wildcard}' in the same resource list is "
                        "not allowed as they will be masked"
                    )
                else:
                    errs.append(f'resource "{resource}" is masked by earlier rule "{wildcard}"')
                break
        else:
            seen[resource] = field
            names.append(resource)
    return names


def _parse_provider(provider: Any, where: str, errs: list[str]) -> list[tuple[str, Provider]]:
    if not isinstance(provider, dict) or not provider:
        errs.append(
            f"{where}: Invalid value: provider does not contain any of the expected "
            "providers: KMS, AESGCM, AESCBC, Secretbox, Identity"
        )
        return []
    if len(provider) > 1:
        errs.append(
            f"{where}: Invalid value: more than one provider specified in a single element, "
            "should split into different list elements"
        )
        return []
    (kind, body), *_ = provider.items()
    if kind not in _KNOWN:
        errs.append(
            f"{where}: Invalid value: {kind!r}: provider does not contain any of the expected "
            "providers: KMS, AESGCM, AESCBC, Secretbox, Identity"
        )
        return []
    if kind == "identity":
        return [("identity", Identity())]
    if kind not in _SERVED:
        errs.append(
            f"{where}.{kind}: Unsupported value: {kind!r}: supported values: "
            '"aesgcm", "aescbc", "identity"'
        )
        return []
    keys = body.get("keys") if isinstance(body, dict) else None
    if not isinstance(keys, list) or not keys:
        errs.append(f"{where}.{kind}.keys: Required value: keys is a required field")
        return []
    made: list[tuple[str, Provider]] = []
    names: set[str] = set()
    for k, key in enumerate(keys):
        field = f"{where}.{kind}.keys[{k}]"
        key = key if isinstance(key, dict) else {}
        name, secret = key.get("name"), key.get("secret")
        if not isinstance(name, str) or not name:
            errs.append(f"{field}.name: Required value: name is a required field")
            continue
        if ":" in name:
            errs.append(f'{field}.name: Invalid value: "{name}": should not contain ":"')
            continue
        if name in names:
            errs.append(f'{field}.name: Duplicate value: "{name}"')
            continue
        names.add(name)
        if not isinstance(secret, str) or not secret:
            errs.append(f"{field}.secret: Required value: secret is a required field")
            continue
        try:
            raw = base64.b64decode(secret, validate=True)
        except (binascii.Error, ValueError):
            errs.append(
                f'{field}.secret: Invalid value: "REDACTED": secrets must be base64 encoded'
            )
            continue
        if len(raw) not in AES_KEY_SIZES:
            errs.append(
                f'{field}.secret: Invalid value: "REDACTED": secret is not of the expected '
                f"length, got {len(raw)}, expected one of [16 24 32]"
            )
            continue
        made.append((f"{kind}:{name}", _SERVED[kind](name, raw)))
    return made


def default_config_text(key_name: str = "key1") -> str:
    """A configuration encrypting Secrets with a fresh random 32-byte AES-GCM key.

    ``identity`` second reads Secrets stored before the key existed; the start-up
    pass then rewrites them encrypted.
    """
    secret = base64.b64encode(random_secrets.token_bytes(32)).decode()
    return (
        f"apiVersion: {API_VERSIONS[0]}\n"
        f"kind: {KIND}\n"
        "resources:\n"
        "- resources: [secrets]\n"
        "  providers:\n"
        "  - aesgcm:\n"
        "      keys:\n"
        f"      - name: {key_name}\n"
        f"        secret: {secret}\n"
        "  - identity: {}\n"
    )


def ensure_default_config(path: Path) -> Path:
    """``path``, written 0600 from its first byte with a new key if it does not exist yet."""
    if not path.exists():
        write_private(path, default_config_text())
    return path

"""Names an App's branches get: slugs, object names, URL labels and hosts (DESIGN.md "Names").

One module decides them so that the builder, the App controller and the
router agree:

- **branch slug**: the branch with its accents taken off (Unicode NFKD,
  then what is not ASCII dropped: ``Ünïcode`` reads ``unicode``, not
  ``n-code``), lowercased, each run of characters outside ``[a-z0-9]``
  turned into one ``-``, trimmed of ``-``, cut so that the
  longest object derived from it (``<app>-<slug>-00001-deployment``) fits a
  63-character DNS label.
- **the hash**: five hex characters of the SHA-256 of the full branch name,
  appended (``-<hash>``) whenever the slug is not the branch itself (the
  mapping lost something, so another branch could land on the same slug),
  was cut, or has two characters. A rule that needs no list of the app's
  other branches stays stable: ``feature-x`` keeps its name however many
  branches come and go, and ``Feature/X`` (``feature-x-<hash>``) can never
  take it. Two characters: ``qa--myapp`` has ``--`` as its third and fourth
  characters, which IDNA reserves (Python's ``idna`` codec refuses it).
- **object names**: ``<app>-<slug>``; **URL label**: ``<slug>--<app>``;
  **hosts**: ``<app>.<domain>`` for the main branch, ``<label>.<domain>`` for
  the others, with ``.<namespace>`` before the domain outside ``default``.

App and namespace names are DNS-1035 labels (they start Service names);
apps are kept short enough to leave room for a readable slug.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

MAX_LABEL = 63
LONGEST_SUFFIX = "-00001-deployment"  # the longest name derived from <app>-<slug>
MAX_APP = 30  # leaves a slug at least 15 characters within MAX_LABEL
HASH_LEN = 5
DEFAULT_NAMESPACE = "default"

_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_OUTSIDE = re.compile(r"[^a-z0-9]+")


class InvalidName(ValueError):
    """An app, namespace or branch name the platform cannot use; the message says why."""


def check_app_name(name: str) -> str:
    """``name`` when it can be an App's name, else ``InvalidName`` saying what is allowed."""
    if not _LABEL.match(name) or len(name) > MAX_APP:
        raise InvalidName(
            f'invalid app name "{name}": use lowercase letters, digits and "-", starting with '
            f"a letter, ending with a letter or digit, at most {MAX_APP} characters"
        )
    return name


def check_namespace(name: str) -> str:
    if not _LABEL.match(name) or len(name) > MAX_LABEL:
        raise InvalidName(
            f'invalid namespace "{name}": use lowercase letters, digits and "-", starting '
            f"with a letter, at most {MAX_LABEL} characters"
        )
    return name


def branch_hash(branch: str) -> str:
    return hashlib.sha256(branch.encode()).hexdigest()[:HASH_LEN]


def branch_slug(app: str, branch: str) -> str:
    """The branch's slug within ``app`` (the app's length decides how much room it has)."""
    if not branch:
        raise InvalidName("a branch name cannot be empty")
    room = MAX_LABEL - len(app) - 1 - len(LONGEST_SUFFIX)
    plain = unicodedata.normalize("NFKD", branch).encode("ascii", "ignore").decode()
    slug = _OUTSIDE.sub("-", plain.lower()).strip("-")
    tagged = slug != branch or len(slug) > room or len(slug) <= 2
    if not tagged:
        return slug
    tail = "-" + branch_hash(branch)
    slug = slug[: room - len(tail)].strip("-")
    return (slug or "branch") + tail


def object_name(app: str, branch: str) -> str:
    """The name of the branch's Deployment, Service and Ingress: ``<app>-<slug>``."""
    return f"{app}-{branch_slug(app, branch)}"


def url_label(app: str, branch: str) -> str:
    return f"{branch_slug(app, branch)}--{app}"


def host(app: str, branch: str, *, main_branch: str, namespace: str, domain: str) -> str:
    """The host a branch is served at."""
    label = app if branch == main_branch else url_label(app, branch)
    where = "" if namespace == DEFAULT_NAMESPACE else f".{namespace}"
    return f"{label}{where}.{domain}"


def url(
    app: str, branch: str, *, main_branch: str, namespace: str, domain: str, http_port: int
) -> str:
    """The branch's URL through the router (port 80 left out)."""
    port = "" if http_port == 80 else f":{http_port}"
    name = host(app, branch, main_branch=main_branch, namespace=namespace, domain=domain)
    return f"http://{name}{port}/"


def build_name(app: str, branch: str, commit: str) -> str:
    """A Build's name: ``<app>-<slug>-<commit[:7]>`` (generateName with it on a collision)."""
    return f"{object_name(app, branch)}-{commit[:7]}"

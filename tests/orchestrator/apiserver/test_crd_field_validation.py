"""``fieldValidation=Ignore`` on a custom resource: unknown fields are dropped, silently.

Kubernetes prunes a custom resource on every decode whatever the field
validation level; Ignore only silences the warning (and Strict turns it into
a 400). The create's answer and the stored object both lack the field.
"""

from __future__ import annotations

import httpx
from support.apiserver import RunningAPI
from support.crds import CRDS, definition
from support.wait import wait_until

WIDGETS = definition(
    "widgets",
    "Widget",
    {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}},
    },
)
PATH = "/apis/example.com/v1/namespaces/default/widgets"


def _established(http: httpx.Client) -> bool:
    crd = http.get(f"{CRDS}/widgets.example.com").json()
    return any(
        c["type"] == "Established" and c["status"] == "True"
        for c in crd.get("status", {}).get("conditions", [])
    )


def test_ignore_still_prunes_unknown_fields_without_a_warning(sqlite_api: RunningAPI) -> None:
    with sqlite_api.http() as http:
        assert http.post(CRDS, json=WIDGETS).status_code == 201
        wait_until(lambda: _established(http), message="widgets never established")
        body = {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"size": 2.0, "colour": "red"},
        }
        r = http.post(PATH, params={"fieldValidation": "Ignore"}, json=body)
        assert r.status_code == 201, r.text
        assert "warning" not in r.headers
        assert r.json()["spec"] == {"size": 2}
        assert http.get(f"{PATH}/w").json()["spec"] == {"size": 2}

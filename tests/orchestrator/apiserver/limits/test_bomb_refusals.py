"""Bombs are refused before the work is done: the answer, and memory that stays bounded.

The bodies are the benchmark's (bench/limits.py, which also times them): the
billion-laughs YAML as a create and as a server-side apply, the 21-copy JSON
patch, a 3 MiB nesting bomb, 100,000 levels of YAML nesting, 10,001 patch
operations. Each is sent several times to a server running in this process;
the process's resident memory must not grow by more than a few tens of MiB
(before the limits, one laughs document took 1.25 GB). It runs on SQLite and
on etcd (``store_spec``): the refusals must leave either store as it was.
"""

from __future__ import annotations

from pathlib import Path

from support.apiserver import start_api

from bench.limits import BOMBS

CMS = "/api/v1/namespaces/default/configmaps"
EXPECTED = {
    "billion laughs (create)": (400, "excessive aliasing"),
    "billion laughs (apply)": (400, "excessive aliasing"),
    "21-copy JSON patch": (422, "Unable to complete the copy"),
    "JSON nesting, 3 MiB": (400, "exceeded max depth"),
    "YAML nesting, 100k levels": (400, "exceeded max depth"),
    "JSON patch of 10,001 ops": (413, "The allowed maximum operations in a JSON patch is 10000"),
}


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_bombs_are_refused_with_their_reason_and_memory_stays_bounded(
    tmp_path: Path, store_spec: str
) -> None:
    assert set(EXPECTED) == set(BOMBS)
    api = start_api(tmp_path / "api", store_spec)
    try:
        with api.http() as http:
            http.post(CMS, json={"metadata": {"name": "base"}, "data": {"a": "b"}})
            before = _rss_mib()
            for _ in range(5):
                for name, (method, path, body, content_type) in BOMBS.items():
                    r = http.request(
                        method, path, content=body, headers={"Content-Type": content_type}
                    )
                    status, words = EXPECTED[name]
                    assert r.status_code == status, (name, r.text[:300])
                    assert words in r.json()["message"], (name, r.json()["message"][:300])
            grown = _rss_mib() - before
            assert http.get(f"{CMS}/base").json()["data"] == {"a": "b"}
            assert [i["metadata"]["name"] for i in http.get(CMS).json()["items"]] == ["base"]
    finally:
        api.stop()
    assert grown < 64, f"the server's process grew by {grown:.0f} MiB refusing bombs"

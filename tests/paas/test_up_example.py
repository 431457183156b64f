"""``paas up --example DIR`` (``make run``): the flag's checks, what a push shows, the curl line.

The whole path (a real push through ``paas up`` to a live URL) is in
``tests/e2e/test_make_run_example.py``; here are the parts that decide
without a platform.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from paas.up.example import ExampleSettings, curl_line, shown

ROOT = Path(__file__).resolve().parents[2]


def example(domain: str = "localhost", source: str = "python-flask") -> ExampleSettings:
    return ExampleSettings(
        source=Path("/x") / source,
        repo=Path("/d/example") / source,
        log=Path("/d/logs/example-push.log"),
        git_base="http://git.localhost:8080",
        router="http://127.0.0.1:8080",
        domain=domain,
        kubeconfig=Path("/d/kubeconfig"),
    )


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("remote: -----> Building main (861bbb1) of app", "Building main (861bbb1) of app"),
        (
            "remote: -----> main is live at http://a.localhost:8080/",
            "main is live at http://a.localhost:8080/",
        ),
        ("remote:        -----> Installing dependencies with pip", ""),  # the build's detail
        ("remote:               Successfully installed flask", ""),
        ("To http://git.localhost:8080/a.git", ""),
        ("Everything up-to-date", "Everything up-to-date"),
        (
            " ! [remote rejected] main -> main (pre-receive hook declined)",
            "! [remote rejected] main -> main (pre-receive hook declined)",
        ),
        (
            "error: failed to push some refs to 'http://git.localhost:8080/a.git'",
            "error: failed to push some refs to 'http://git.localhost:8080/a.git'",
        ),
    ],
)
def test_a_push_shows_its_steps_and_errors_not_the_build_detail(line: str, said: str) -> None:
    assert shown(line) == said


def test_the_url_and_curl_line_name_the_app_after_its_directory() -> None:
    s = example()
    assert s.app == "python-flask"
    assert s.url == "http://python-flask.localhost:8080/"
    assert curl_line(s) == "curl http://python-flask.localhost:8080/"  # curl resolves *.localhost


def test_a_domain_curl_cannot_resolve_gets_a_host_header() -> None:
    s = example(domain="paas.test")
    assert curl_line(s) == "curl -H 'Host: python-flask.paas.test' http://127.0.0.1:8080/"


def up(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paas", "up", "--data-dir", str(tmp_path / "d"), *flags],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_an_example_that_is_not_a_directory_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    done = up(tmp_path, "--example", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert "--example" in done.stderr and "is not a directory" in done.stderr
    assert not (tmp_path / "d").exists()


def test_an_example_whose_name_cannot_be_an_app_is_refused(tmp_path: Path) -> None:
    (tmp_path / "My_App").mkdir()
    done = up(tmp_path, "--example", str(tmp_path / "My_App"))
    assert done.returncode == 2
    assert "its name is the app's" in done.stderr
    assert not (tmp_path / "d").exists()

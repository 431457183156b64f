"""Detection order, the Procfile grammar and WSGI/ASGI app discovery: tables, no processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.build import BuildFailed, BuildSettings, build
from builder.buildpacks.procfile import parse_procfile
from builder.buildpacks.python import find_app
from builder.detect import detect


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.mark.parametrize(
    ("files", "detected"),
    [
        (["Dockerfile", "requirements.txt", "package.json", "index.html"], "dockerfile"),
        (["requirements.txt", "package.json", "index.html"], "python"),
        (["pyproject.toml"], "python"),
        (["package.json", "index.html"], "node"),
        (["index.html"], "static"),
        (["public/index.html"], "static"),
    ],
)
def test_detection_takes_the_first_match_in_order(
    tmp_path: Path, files: list[str], detected: str
) -> None:
    assert detect(tree(tmp_path, dict.fromkeys(files, ""))) == detected


def test_a_repository_nothing_recognises_fails_listing_what_was_looked_for(
    tmp_path: Path, build_settings: BuildSettings
) -> None:
    source = tree(tmp_path / "src", {"README.md": "hi", "main.go": "package main"})
    with pytest.raises(BuildFailed) as failed:
        build(source, lambda line: None, build_settings)
    for wanted in (
        "Dockerfile",
        "requirements.txt",
        "pyproject.toml",
        "package.json",
        "index.html",
    ):
        assert wanted in str(failed.value)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("web: gunicorn app:app\n", {"web": "gunicorn app:app"}),
        (
            "# comment\n\nweb:  npm start  \nrelease: ./migrate\n",
            {"web": "npm start", "release": "./migrate"},
        ),
        ("worker_2: python w.py --x=1:2\n", {"worker_2": "python w.py --x=1:2"}),
    ],
)
def test_procfile_lines_give_types_and_commands(text: str, parsed: dict[str, str]) -> None:
    assert parse_procfile(text) == parsed


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("web: a\nweb: b\n", "line 2: process type 'web' is defined twice"),
        ("<<<<<<< HEAD\n", "line 1 is not '<type>: <command>'"),
        ("web:\n", "line 1 is not"),
    ],
)
def test_a_bad_procfile_line_is_refused_naming_it(text: str, error: str) -> None:
    with pytest.raises(BuildFailed, match=error):
        parse_procfile(text)


@pytest.mark.parametrize(
    ("files", "found"),
    [
        ({"app.py": "from flask import Flask\napp = Flask(__name__)\n"}, ("app:app", False)),
        ({"main.py": "from fastapi import FastAPI\napp = FastAPI()\n"}, ("main:app", True)),
        (
            {"site/wsgi.py": "application = get_wsgi_application()\n"},
            ("site.wsgi:application", False),
        ),
        (
            {"server.py": "def application(environ, start_response):\n    ...\n"},
            ("server:application", False),
        ),
        ({"app.py": "print('no app here')\n"}, None),
    ],
)
def test_a_wsgi_or_asgi_app_is_found_by_its_module_and_name(
    tmp_path: Path, files: dict[str, str], found: tuple[str, bool] | None
) -> None:
    assert find_app(tree(tmp_path, files)) == found


def test_a_python_app_without_procfile_or_server_fails_saying_what_to_add(
    tmp_path: Path, build_settings: BuildSettings
) -> None:
    source = tree(tmp_path / "src", {"requirements.txt": "", "app.py": "app = make_app()\n"})
    with pytest.raises(BuildFailed, match=r"no server for it: add gunicorn to requirements\.txt"):
        build(source, lambda line: None, build_settings)

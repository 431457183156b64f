"""The bare repositories, one per App: ``<repos>/<namespace>/<app>.git``.

A repository belongs to one App object: its uid is kept in the repository's
config (``paas.appuid``). An App deleted and made again (``paas apps delete``
then a push) is a new app, so a repository left by the old one is removed
and started afresh rather than handed to it. Repositories are made with
GitPython (``git init --bare -b main``) and get the builder's hooks
(``hooks.install``): a non-executable hook would be skipped without a word.

``receive.denyDeleteCurrent`` stays on: the main branch is the app; it goes
with ``paas apps delete``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import git

from builder.hooks import install_hooks

UID_KEY = "paas.appuid"


class Repositories:
    def __init__(self, root: Path, hook_python: str) -> None:
        self.root = root
        self._python = hook_python

    def path(self, namespace: str, app: str) -> Path:
        return self.root / namespace / f"{app}.git"

    def exists(self, namespace: str, app: str) -> bool:
        return (self.path(namespace, app) / "HEAD").is_file()

    def ensure(self, namespace: str, app: str, app_uid: str, main_branch: str) -> Path:
        """The App's repository, made (or made afresh for a new App of the same name)."""
        path = self.path(namespace, app)
        if self.exists(namespace, app):
            repo = git.Repo(path)
            with repo.config_reader() as config:
                uid = config.get_value("paas", "appuid", "")
            repo.close()
            if uid == app_uid:
                install_hooks(path, self._python)  # a newer builder's hooks
                return path
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        repo = git.Repo.init(path, bare=True, mkdir=True, initial_branch=main_branch)
        with repo.config_writer() as config:
            config.set_value("paas", "appuid", app_uid)
            # Pushers authenticate with tokens; http-backend serves receive-pack to REMOTE_USER.
            config.set_value("http", "receivepack", "true")
            config.set_value("receive", "advertisePushOptions", "true")
        repo.close()
        install_hooks(path, self._python)
        return path

    def remove(self, namespace: str, app: str) -> None:
        shutil.rmtree(self.path(namespace, app), ignore_errors=True)

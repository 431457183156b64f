"""Buildpacks: each turns an app's files into a slug's contents and a ``Launch``.

A module per language with ``NAME``, ``detect(app) -> bool`` and
``compile_app(ctx) -> Launch``; ``base`` holds what they share, ``procfile``
the Procfile grammar. ``COMPILERS`` maps a detected name to its compiler.
"""

from __future__ import annotations

from collections.abc import Callable

from builder.buildpacks import node, python, static
from builder.buildpacks.base import BuildContext, Launch

COMPILERS: dict[str, Callable[[BuildContext], Launch]] = {
    python.NAME: python.compile_app,
    node.NAME: node.compile_app,
    static.NAME: static.compile_app,
}

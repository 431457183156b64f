"""A container's records read while ``remove`` deletes them: skipped, never a crash or debris.

The node agent lists containers while it removes old attempts beside it. A
directory read half-deleted (its exit record gone, its pid record not yet)
looked like a container whose supervisor died without an exit status: the
listing then wrote a "lost" exit record into the vanishing directory and
failed with FileNotFoundError (seen in CI, crash-loop test). Now such a
directory is left out of the listing and nothing is written into it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.kubelet.runtimes.processstate import container_state, record_lost_exit


def dead_container(cdir: Path) -> Path:
    """Records of a container whose supervisor and process are gone, with no exit record."""
    cdir.mkdir(parents=True)
    (cdir / "spec.json").write_text(json.dumps({"id": "u.app.0", "name": "app", "attempt": 0}))
    # pid 1 with a start time it never had: "not the process we started", so not alive
    (cdir / "pid.json").write_text(
        json.dumps({"pid": 1, "pid_start": -1, "supervisor": 1, "supervisor_start": -1})
    )
    return cdir


def test_a_container_that_ended_without_a_record_is_reported_lost(tmp_path: Path) -> None:
    cdir = dead_container(tmp_path / "app.0")
    state = container_state(cdir)
    assert (state.status, state.exit_code, state.reason) == ("exited", 137, "Error")
    assert "supervisor ended without an exit status" in state.message
    assert (cdir / "exit.json").exists()


def test_records_being_removed_are_not_written_into(tmp_path: Path) -> None:
    cdir = dead_container(tmp_path / "app.0")
    (cdir / "spec.json").unlink()  # remove() got this far
    with pytest.raises(FileNotFoundError):
        container_state(cdir)
    with pytest.raises(FileNotFoundError):
        record_lost_exit(cdir, "lost")
    assert sorted(p.name for p in cdir.iterdir()) == ["pid.json"]  # nothing new in it

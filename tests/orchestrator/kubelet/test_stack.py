"""Where the stack image's packages come from: this machine's apt sources."""

from __future__ import annotations

from pathlib import Path

from orchestrator.kubelet.stack import StackSettings, host_mirrors, mmdebstrap_argv


def test_mirrors_come_from_both_apt_formats(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb [arch=amd64] http://mirror.example/debian bookworm main contrib\n"
        "deb-src http://mirror.example/debian bookworm main\n"
    )
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\n# http://snapshot.example\nURIs: http://mirror.example/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\n"
        "Types: deb\nURIs: http://other.example/node\nSuites: nodistro\nComponents: main\n"
    )
    (tmp_path / "sources.list.d" / "old.list.disabled").write_text("deb http://x/ bookworm main\n")
    assert host_mirrors("bookworm", tmp_path) == (
        "deb http://mirror.example/debian bookworm main contrib",
        "deb http://mirror.example/debian bookworm main",
        "deb http://mirror.example/debian bookworm-updates main",
        "deb http://mirror.example/debian-security bookworm-security main",
    )


def test_without_matching_sources_debian_s_mirror_is_used(tmp_path: Path) -> None:
    assert host_mirrors("bookworm", tmp_path) == ()
    argv = mmdebstrap_argv(StackSettings(mirrors=("deb http://m/debian bookworm main",)))
    assert argv[:3] == [
        "mmdebstrap",
        "--variant=minbase",
        "--include=python3,nodejs,ca-certificates",
    ]
    assert argv[-3:] == ["bookworm", "-", "deb http://m/debian bookworm main"]

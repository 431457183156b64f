"""The CGI contract with git http-backend, and the pkt-lines the server reads itself."""

from __future__ import annotations

import io

import pytest

from builder.cgi import CGIRequest, cgi_environ, parse_headers
from builder.gitpaths import BadPath, parse_git_path
from builder.pktline import ZERO, read_commands, sideband


def test_status_is_200_when_absent_and_read_anywhere_with_duplicates_dropped() -> None:
    assert parse_headers(b"Content-Type: a\r\nPragma: no-cache") == (
        200,
        [("Content-Type", "a"), ("Pragma", "no-cache")],
    )
    block = b"Pragma: no-cache\r\nStatus: 403 Forbidden\r\nPragma: no-cache\r\nContent-Type: t"
    assert parse_headers(block) == (403, [("Pragma", "no-cache"), ("Content-Type", "t")])


def test_content_length_is_passed_only_when_the_request_had_one() -> None:
    chunked = CGIRequest("POST", "/default/a.git/git-receive-pack", "", content_type="x")
    env = cgi_environ(chunked, "/repos", {"PATH": "/bin", "SECRET": "s"}, {"PAAS_APP": "a"})
    assert "CONTENT_LENGTH" not in env
    assert "SECRET" not in env  # a clean environment
    assert env["PATH"] == "/bin" and env["PAAS_APP"] == "a"
    assert env["GIT_PROJECT_ROOT"] == "/repos" and env["GIT_HTTP_EXPORT_ALL"] == "1"
    sized = CGIRequest("POST", "/p", "", content_length="4", content_encoding="gzip")
    env = cgi_environ(sized, "/r", {}, {})
    assert env["CONTENT_LENGTH"] == "4" and env["HTTP_CONTENT_ENCODING"] == "gzip"


def pkt(text: str) -> bytes:
    return f"{len(text) + 4:04x}".encode() + text.encode()


def test_receive_pack_commands_are_read_up_to_the_flush() -> None:
    new = "1" * 40
    body = pkt(f"{ZERO} {new} refs/heads/main\0report-status side-band-64k\n")
    body += pkt(f"{new} {ZERO} refs/heads/old\n") + b"0000PACK..."
    first, second = read_commands(io.BytesIO(body))
    assert first.branch == "main" and not first.deletes
    assert second.branch == "old" and second.deletes
    assert read_commands(io.BytesIO(b"0000")) == []  # git's probe before a chunked push


def test_a_sideband_message_is_one_pkt_line_on_band_2() -> None:
    assert sideband("hi\n") == b"0008\x02hi\n"


@pytest.mark.parametrize(
    ("path", "namespace", "app"),
    [
        ("/shop.git/info/refs", "default", "shop"),
        ("/team/shop.git/git-upload-pack", "team", "shop"),
    ],
)
def test_repository_urls(path: str, namespace: str, app: str) -> None:
    target = parse_git_path(path, "git-upload-pack")
    assert (target.namespace, target.app) == (namespace, app)
    assert target.path_info == f"/{namespace}/{app}.git/{path.split('.git/')[1]}"


@pytest.mark.parametrize(
    ("path", "service", "status"),
    [
        ("/../shop.git/info/refs", "git-receive-pack", 400),
        ("/a/../shop.git/info/refs", "git-receive-pack", 400),
        ("/Shop.git/info/refs", "git-receive-pack", 400),
        ("/a/b/shop.git/info/refs", "git-receive-pack", 404),
        ("/shop.git/HEAD", "", 404),
        ("/shop.git/info/refs", "", 403),  # the dumb protocol
    ],
)
def test_bad_repository_urls(path: str, service: str, status: int) -> None:
    with pytest.raises(BadPath) as caught:
        parse_git_path(path, service)
    assert caught.value.status == status

"""A small static file server, the web process of static-site slugs.

Run as ``python3 staticserver.py ROOT`` (the static buildpack copies this
file into the slug) or ``python3 -m builder.staticserver ROOT``. It must run
with nothing but the standard library: the node that runs a slug has its
own ``python3`` and nothing of ours.

It binds ``$HOST`` (loopback mode gives each pod its address; default all
addresses) on ``$PORT`` (default 8080), serves files under ROOT with
``index.html`` for directories, never serves dotfiles (``.git``, ``.env``),
answers 404 with a short page, and logs one line per request on stdout.
Threads per connection with keep-alive (HTTP/1.1): enough for a preview
site; a busy static site belongs behind a CDN or the router's cache.
"""

from __future__ import annotations

import http.server
import os
import sys
from functools import partial


class StaticHandler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "paas-static/1"

    def send_head(self):  # type: ignore[no-untyped-def,unused-ignore]
        parts = self.path.split("?", 1)[0].split("#", 1)[0].split("/")
        if any(part.startswith(".") and part not in ("", ".") for part in parts):
            self.send_error(404, "Not Found")
            return None
        return super().send_head()

    def log_message(self, format: str, *args: object) -> None:
        sys.stdout.write(f"{self.address_string()} {format % args}\n")
        sys.stdout.flush()


def main(argv: list[str]) -> int:
    root = argv[1] if len(argv) > 1 else "."
    if not os.path.isdir(root):
        print(f"staticserver: {root} is not a directory", file=sys.stderr)
        return 2
    host = os.environ.get("HOST", "") or "0.0.0.0"
    port = int(os.environ.get("PORT", "") or "8080")
    handler = partial(StaticHandler, directory=root)
    with http.server.ThreadingHTTPServer((host, port), handler) as server:
        print(f"serving {root} on http://{host}:{port}", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

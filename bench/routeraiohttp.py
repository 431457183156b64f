"""The other stack bench/router weighs: a minimal streaming reverse proxy on aiohttp alone.

aiohttp's server (its C parser) in front of one ``ClientSession`` (a
keep-alive pool) relaying to one fixed upstream, bodies streamed both ways:
the least an aiohttp-based router would do per request, with no routing at
all. ``python -m bench.routeraiohttp HOST PORT UPSTREAM_URL``.
"""

from __future__ import annotations

import sys

from aiohttp import ClientSession, TCPConnector, web

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection"}


def make_app(upstream: str) -> web.Application:
    app = web.Application()

    async def start(app: web.Application) -> None:
        app["session"] = ClientSession(
            connector=TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=60),
            auto_decompress=False,
        )

    async def stop(app: web.Application) -> None:
        await app["session"].close()

    async def relay(request: web.Request) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
        headers["X-Forwarded-For"] = request.remote or ""
        async with app["session"].request(
            request.method,
            upstream + request.path_qs,
            headers=headers,
            data=request.content if request.can_read_body else None,
            allow_redirects=False,
        ) as answer:
            response = web.StreamResponse(status=answer.status)
            for k, v in answer.headers.items():
                if k.lower() not in HOP:
                    response.headers[k] = v
            await response.prepare(request)
            async for chunk in answer.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_route("*", "/{tail:.*}", relay)
    return app


if __name__ == "__main__":
    host, port, upstream = sys.argv[1], int(sys.argv[2]), sys.argv[3].rstrip("/")
    web.run_app(make_app(upstream), host=host, port=port, access_log=None, print=None)

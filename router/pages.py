"""The router's own answers: a 404 that lists what is served, 5xx pages that say what failed.

Small HTML documents, built with every interpolated value escaped (hosts and
paths come from clients and from Ingresses). They are what a developer sees
when a URL does not work, so each names the host, the Ingress and the
Service involved and the reason in plain words.
"""

from __future__ import annotations

from html import escape

from router.ingressroutes import Route

TITLES = {
    400: "Bad request",
    405: "Method not allowed",
    408: "Request timeout",
    431: "Request headers too large",
    404: "No app here",
    500: "Misconfigured route",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}
_STYLE = "body{font-family:sans-serif;max-width:42em;margin:3em auto;color:#222}code{color:#a33}"


def _document(status: int, heading: str, body: str) -> bytes:
    title = f"{status} {TITLES.get(status, '')}".strip()
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>"
        f"<p>{escape(heading)}</p>{body}"
        "<p><small>paas router</small></p></body></html>\n"
    ).encode()


def not_found_page(host: str, hosts: list[str]) -> bytes:
    """404: nothing routes this host (or this path); the hosts that are routed."""
    if hosts:
        items = "".join(f"<li><code>{escape(h)}</code></li>" for h in hosts)
        listing = f"<p>Hosts served here:</p><ul>{items}</ul>"
    else:
        listing = "<p>No Ingress is served yet: deploy an app, or create an Ingress.</p>"
    return _document(404, f"No route for host {host or '(none)'}.", listing)


def error_page(status: int, heading: str, reason: str, route: Route) -> bytes:
    """5xx: what failed, for which Ingress and Service."""
    service = str(route.service) if route.service is not None else "-"
    detail = (
        f"<p>Reason: <code>{escape(reason)}</code></p>"
        f"<p>{escape(route.kind)} <code>{escape(route.source)}</code>, path "
        f"<code>{escape(route.path or '(default backend)')}</code>, "
        f"Service <code>{escape(service)}</code>.</p>"
    )
    return _document(status, heading, detail)


def client_error_page(status: int, reason: str) -> bytes:
    """4xx the router answers itself: the request could not be read as HTTP."""
    return _document(status, f"The router could not serve this request: {reason}.", "")

"""``kubectl exec``, ``attach``, ``cp`` and ``port-forward``: the API server's side.

Clients reach ``pods/{name}/exec|attach|portforward`` over one of three
transports (reference ``kubectl-protobuf-and-streams.md`` section 3):

- WebSocket ``v5.channel.k8s.io`` / ``v4.channel.k8s.io`` for exec and
  attach (kubectl 1.30+), served through uvicorn's WebSocket support
  (``websocket.py``);
- SPDY/3.1 upgrades (every kubectl, the only transport of 1.27-1.29 exec
  and 1.27-1.30 port-forward), taken over from uvicorn's HTTP protocol
  because it cannot answer a 101 that is not a WebSocket one
  (``upgrade.py``, framing in ``spdyframes.py``, streams in
  ``spdysession.py``);
- SPDY bytes tunnelled inside WebSocket binary messages for port-forward
  (``SPDY/3.1+portforward.k8s.io``, kubectl 1.31+).

Whatever the client speaks, the node agent is spoken to in the kubelet's
own WebSocket protocol (``nodelink.py``): one WebSocket per exec/attach
and one per forwarded TCP connection. ``execrelay.py`` and
``portforward.py`` translate. What can be decided from the store (pod,
container, node) is checked first in ``target.py``, before any upgrade, so
mistakes are answered as HTTP errors in Kubernetes' words.
"""

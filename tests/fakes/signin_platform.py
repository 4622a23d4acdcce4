"""A stand-in for the platform's sign-in landing page: reads `id_token` from the fragment, has its
backend verify it (a callable given by the test), and shows the verified claims."""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Any

from tests.fakes.serving import QuietHandler, serve, stop

PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Platform</title></head><body>
<h1>Platform: signed in?</h1><pre id="claims">verifying...</pre>
<script>
const found = new URLSearchParams(location.hash.slice(1));
fetch("/verify", {method: "POST", body: found.get("id_token") || ""})
  .then(r => r.json())
  .then(c => { document.getElementById("claims").textContent = JSON.stringify(c, null, 2);
               document.body.dataset.next = found.get("next") || ""; });
</script></body></html>"""


class PlatformPage:
    def __init__(self, verify: Callable[[str], dict[str, Any]]) -> None:
        self.verify = verify
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> PlatformPage:
        self._server = serve(type("Handler", (_Handler,), {"page": self}))
        return self

    def __exit__(self, *_: object) -> None:
        stop(self._server)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/signed-in"


class _Handler(QuietHandler):
    page: PlatformPage

    def do_GET(self) -> None:
        self._send(200, "text/html; charset=utf-8", PAGE)

    def do_POST(self) -> None:
        token = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        try:
            claims: dict[str, Any] = {"verified": True, **self.page.verify(token)}
        except Exception as exc:  # shown on the page, where the test reads it
            claims = {"verified": False, "error": type(exc).__name__}
        self._send(200, "application/json", json.dumps(claims).encode())

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

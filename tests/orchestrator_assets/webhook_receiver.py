"""A webhook for the alert tests: an HTTP server on 127.0.0.1 that records every POST."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer


class Receiver:
    """Records each POST's path, headers and JSON body; answers `status` (a 3xx carries a
    Location a client must not follow)."""

    def __init__(self, status: int = 200):
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers["Content-Length"])
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": json.loads(self.rfile.read(length))}
                )
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "file:///etc/passwd")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.url = self.url_with()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def bodies(self) -> list[dict]:
        return [request["body"] for request in self.requests]

    def url_with(self, userinfo: str = "", path: str = "/hook", query: str = "") -> str:
        return f"http://{userinfo}127.0.0.1:{self.port}{path}{query}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

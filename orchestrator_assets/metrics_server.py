"""`reassort metrics`: an HTTP server with /metrics (Prometheus text format) and /health (JSON).

Bound to 127.0.0.1 by default: the figures name sites, tables and partitions, and the
server has no authentication and no TLS, so it is for a Prometheus on the same host (or
behind a proxy that adds both). `--host 0.0.0.0` exposes it to the network: that is a
choice to make knowingly (docs/operations.md, docs/security.md).

/metrics is prometheus_client's own WSGI app over a registry holding only our collector
(metrics_collector.py; no process or platform metrics of the server itself). /health is
the `reassort health` report (health_checks.py): HTTP 200 when healthy, 503 otherwise, so
a plain HTTP probe works without parsing the body.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import dagster as dg
from prometheus_client import CollectorRegistry, make_wsgi_app

from orchestrator_assets.health_checks import HealthReport, check_health
from orchestrator_assets.metrics_collector import ReassortCollector

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9464  # `--port` to change; 0 picks a free one (tests)

Environ = dict
StartResponse = Callable[..., object]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    """One thread per request: a slow scrape does not hold /health; threads die with the process."""

    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  (the base class's name)
        """No line per request on stderr (Prometheus scrapes every 15 s)."""


def build_app(registry: CollectorRegistry, health: Callable[[], HealthReport]) -> Callable[[Environ, StartResponse], Iterable[bytes]]:
    """/metrics and /health; anything else is 404."""
    metrics_app = make_wsgi_app(registry)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            return metrics_app(environ, start_response)
        if path == "/health":
            report = health()
            body = (report.to_json() + "\n").encode()
            status = "200 OK" if report.ok else "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        body = b"Not found: try /metrics or /health\n"
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    return app


def start_server(
    instance: dg.DagsterInstance,
    warehouse: Path,
    data: Path,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    clock: Callable[[], datetime] | None = None,
) -> tuple[WSGIServer, threading.Thread]:
    """Serve in a background thread (port 0: any free port, see `server.server_port`);
    stop with `server.shutdown(); server.server_close()`."""
    clock = clock or (lambda: datetime.now(UTC))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReassortCollector(instance, warehouse, clock))
    app = build_app(registry, lambda: check_health(warehouse, data, instance, clock()))
    server = make_server(host, port, app, server_class=_ThreadingServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="reassort-metrics", daemon=True)
    thread.start()
    return server, thread


def serve(instance: dg.DagsterInstance, warehouse: Path, data: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve until interrupted (Ctrl-C, SIGTERM through the CLI)."""
    server, thread = start_server(instance, warehouse, data, host, port)
    print(f"Serving http://{host}:{server.server_port}/metrics and /health (Ctrl-C to stop)", flush=True)
    try:
        thread.join()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()

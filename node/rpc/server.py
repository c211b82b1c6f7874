"""JSON-RPC 2.0 over HTTP on the standard library's threading server (keep-alive, batch requests).

Every request is answered in one JSON body; errors carry the standard codes (-32700 parse,
-32600 invalid request, -32601 unknown method, -32602 bad params, -32603 internal, 3 revert).
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..service import Node, NodeError
from .methods import METHODS

log = logging.getLogger("certledger.node.rpc")
MAX_BATCH = 1000


def _error(id_: Any, code: int, message: str, data: Any = None) -> dict:
    err: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": "2.0", "id": id_, "error": err}


def handle_one(node: Node, req: Any) -> dict | None:
    if not isinstance(req, dict) or req.get("jsonrpc") != "2.0" or not isinstance(req.get("method"), str):
        return _error(req.get("id") if isinstance(req, dict) else None, -32600, "invalid request")
    id_ = req.get("id")
    method = METHODS.get(req["method"])
    if method is None:
        return _error(id_, -32601, f"the method {req['method']} does not exist/is not available")
    notification = "id" not in req  # run, never answered (JSON-RPC 2.0 section 4.1), errors included
    params = req.get("params", [])
    if not isinstance(params, list):
        return None if notification else _error(id_, -32602, "params must be a list")
    try:
        result = method(node, params)
    except NodeError as exc:
        return None if notification else _error(id_, exc.code, str(exc), exc.data)
    except Exception:  # a bug of ours: logged with its trace, answered without it
        log.exception("internal error in %s", req["method"])
        return None if notification else _error(id_, -32603, "internal error")
    if notification:
        return None
    return {"jsonrpc": "2.0", "id": id_, "result": result}


def handle(node: Node, body: bytes) -> Any:
    try:
        req = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _error(None, -32700, "parse error")
    if isinstance(req, list):
        if not req:
            return _error(None, -32600, "empty batch")
        if len(req) > MAX_BATCH:
            return _error(None, -32600, f"batch too large (at most {MAX_BATCH})")
        return [r for r in (handle_one(node, x) for x in req) if r is not None]
    return handle_one(node, req)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "CertLedgerNode"
    # headers and body leave in two writes; with Nagle on, a kept-alive connection waits ~40 ms
    # for the client's delayed ACK on every request
    disable_nagle_algorithm = True

    def log_message(self, fmt: str, *args: Any) -> None:  # requests are not logged one by one
        pass

    def _send(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        node: Node = self.server.node  # type: ignore[attr-defined]
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > node.config.max_request_bytes:
            self.close_connection = True
            self._send(413, _error(None, -32600, "request too large"))
            return
        payload = handle(node, self.rfile.read(length))
        if payload is None or payload == []:  # notifications only: nothing to say
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._send(200, payload)

    def do_GET(self) -> None:
        self._send(405, _error(None, -32600, "use POST with a JSON-RPC body"))


class RPCServer:
    def __init__(self, node: Node, host: str, port: int) -> None:
        self.httpd = ThreadingHTTPServer((host, port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.node = node  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="rpc", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "RPCServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

"""A webhook receiver on 127.0.0.1 that records what is posted to it and answers scripted statuses."""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookSink:
    """`url` takes POSTs; `messages` holds the JSON bodies it answered 2xx; `script(500, ...)`
    makes the next requests fail with those statuses first."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.attempts = 0
        self._statuses: deque[int] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hooks/ovc"

    def script(self, *statuses: int) -> None:
        with self._lock:
            self._statuses.extend(statuses)

    def __enter__(self) -> WebhookSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server hook name
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with sink._lock:
                    sink.attempts += 1
                    status = sink._statuses.popleft() if sink._statuses else 200
                    if status < 300:
                        sink.messages.append(json.loads(body))
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the http.server signature
                return

        return Handler

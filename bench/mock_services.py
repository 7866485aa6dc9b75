"""Local stand-ins for OpenAI, SendGrid and Twilio during benchmarks. The chat model's
delay is set with `GET /__delay?ms=300`. Loopback only."""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

DELAY = {"ms": 0}
REPLY = {
    "id": "chatcmpl-bench", "object": "chat.completion", "model": "gpt-4o-mini",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "We're open until five today. How else can I help?"}}],
    "usage": {"prompt_tokens": 900, "completion_tokens": 20},
}
AUDIO = b"ID3" + b"\x00" * 4000


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, Nagle's algorithm and
    # delayed ACKs add 40 ms to every answer.
    disable_nagle_algorithm = True

    def _send(self, status, body, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/__delay":
            DELAY["ms"] = int(parse_qs(url.query)["ms"][0])
            return self._send(200, b"{}")
        self._send(404, b"{}")

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        path = urlparse(self.path).path
        if path.endswith("/chat/completions"):
            time.sleep(DELAY["ms"] / 1000)
            return self._send(200, json.dumps(REPLY).encode())
        if path.endswith("/audio/speech"):
            return self._send(200, AUDIO, "audio/mpeg")
        if path == "/v3/mail/send":
            return self._send(202, b"")
        if path.endswith("/Messages.json"):
            return self._send(201, b'{"sid": "SMbench"}')
        self._send(404, b"{}")

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512

    def handle_error(self, request, client_address):
        # When wrk stops, the server drops the model calls still in flight: not an error.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


if __name__ == "__main__":
    Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()

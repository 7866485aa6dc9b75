"""Stand-ins for Stripe and SendGrid while fuzzing, so the billing and test-email
endpoints are exercised past their "not configured" answers. Loopback only."""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SUBSCRIPTION = {"id": "sub_fuzz", "status": "active", "cancel_at_period_end": False, "current_period_end": 1798761600}


class Handler(BaseHTTPRequestHandler):
    def _answer(self, status, body=None):
        payload = json.dumps(body or {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        if self.path == "/v3/mail/send":
            return self._answer(202)
        if self.path == "/v1/customers":
            return self._answer(200, {"id": "cus_fuzz"})
        if self.path == "/v1/checkout/sessions":
            return self._answer(200, {"id": "cs_fuzz", "url": "https://checkout.stripe.test/cs_fuzz"})
        if self.path == "/v1/payment_links":
            return self._answer(200, {"id": "plink_fuzz", "url": "https://buy.stripe.test/fuzz"})
        if self.path.startswith("/v1/subscriptions/"):
            return self._answer(200, dict(SUBSCRIPTION, cancel_at_period_end=True, cancel_at=1798761600))
        return self._answer(404, {"error": {"message": "no such mock"}})

    def do_GET(self):
        if self.path.startswith("/v1/subscriptions/"):
            return self._answer(200, SUBSCRIPTION)
        return self._answer(404, {"error": {"message": "no such mock"}})

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()

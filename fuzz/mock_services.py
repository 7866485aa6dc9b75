"""Stand-ins for Stripe, SendGrid and Twilio while fuzzing, so the billing, test-email,
number and test-call endpoints are exercised past their "not configured" answers.
Loopback only."""

import itertools
import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

SUBSCRIPTION = {"id": "sub_fuzz", "status": "active", "cancel_at_period_end": False, "current_period_end": 1798761600}
TWILIO = "/2010-04-01/Accounts/ACfuzz"
SIDS = itertools.count(1)


def twilio_number(sid, number):
    return {"sid": sid, "phone_number": number, "friendly_name": number, "voice_url": "https://old.example/voice",
            "voice_method": "POST", "status_callback": "", "status_callback_method": "POST"}


class Handler(BaseHTTPRequestHandler):
    def _answer(self, status, body=None):
        payload = json.dumps(body or {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0)).decode()
        form = {k: v[0] for k, v in parse_qs(body).items()}
        if self.path == f"{TWILIO}/IncomingPhoneNumbers.json":
            return self._answer(201, twilio_number(f"PN{next(SIDS)}", form.get("PhoneNumber", "+13125550100")))
        if re.fullmatch(f"{TWILIO}/IncomingPhoneNumbers/PN\\w+\\.json", self.path):
            return self._answer(200, twilio_number(self.path.rsplit("/", 1)[1][:-5], "+13125550100"))
        if self.path == f"{TWILIO}/Calls.json":
            return self._answer(201, {"sid": f"CA{next(SIDS)}", "status": "queued"})
        if self.path == f"{TWILIO}/Messages.json":
            return self._answer(201, {"sid": f"SM{next(SIDS)}"})
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
        url = urlparse(self.path)
        if self.path.startswith("/v1/subscriptions/"):
            return self._answer(200, SUBSCRIPTION)
        if url.path.startswith(f"{TWILIO}/AvailablePhoneNumbers/"):
            digits = str(next(SIDS)).zfill(4)[-4:]
            return self._answer(200, {"available_phone_numbers": [{"phone_number": f"+1312555{digits}"}]})
        if url.path == f"{TWILIO}/IncomingPhoneNumbers.json":
            asked = parse_qs(url.query).get("PhoneNumber", ["+14155550100"])[0]
            return self._answer(200, {"incoming_phone_numbers": [twilio_number("PNfuzz", asked)], "next_page_uri": None})
        return self._answer(404, {"error": {"message": "no such mock"}})

    def do_DELETE(self):
        if self.path.startswith(f"{TWILIO}/IncomingPhoneNumbers/"):
            self.send_response(204)
            self.end_headers()
            return None
        return self._answer(404, {"error": {"message": "no such mock"}})

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()

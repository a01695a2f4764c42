"""A webhook receiver that verifies thumbforge's signatures with the thumbforge
package's verify_webhook (the `standardwebhooks` package underneath,
https://www.standardwebhooks.com).

    THUMBFORGE_WEBHOOK_SECRET=whsec_… python webhook_receiver.py --port 9000

The secret is your organisation's: GET /api/v1/webhooks/secret, or
Thumbforge(…).webhook_secret(). Each verified event is printed as one JSON
line on stdout and answered 204; a delivery that does not verify is
answered 400 and never printed. Answer quickly: thumbforge retries anything
that is not 2xx within 10 s, with the same webhook-id, so use that id to
drop duplicates.
"""

import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from thumbforge import WebhookVerificationError, verify_webhook

seen_ids = set()


class Receiver(BaseHTTPRequestHandler):
    secret: str

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        try:
            event = verify_webhook(self.secret, self.headers, body)
        except WebhookVerificationError as e:
            print(f"rejected a delivery: {e.detail}", file=sys.stderr)
            self.send_response(400)
            self.end_headers()
            return
        webhook_id = self.headers["webhook-id"]
        if webhook_id not in seen_ids:
            seen_ids.add(webhook_id)
            print(json.dumps(event), flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    Receiver.secret = os.environ["THUMBFORGE_WEBHOOK_SECRET"]
    server = ThreadingHTTPServer((args.host, args.port), Receiver)
    print(f"listening on http://{args.host}:{server.server_port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

"""A webhook receiver that verifies thumbforge's signatures with the
`standardwebhooks` package (https://www.standardwebhooks.com).

    THUMBFORGE_WEBHOOK_SECRET=whsec_… python webhook_receiver.py --port 9000

The secret is your organisation's: GET /api/v1/webhooks/secret. Each
verified event is printed as one JSON line on stdout and answered 204; a
delivery that does not verify is answered 400 and never printed. Answer
quickly: thumbforge retries anything that is not 2xx within 10 s, with the
same webhook-id, so use that id to drop duplicates.
"""

import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

seen_ids = set()


class Receiver(BaseHTTPRequestHandler):
    webhook: Webhook

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        try:
            event = self.webhook.verify(body, dict(self.headers.items()))
        except WebhookVerificationError as e:
            print(f"rejected a delivery: {e}", file=sys.stderr)
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
    Receiver.webhook = Webhook(os.environ["THUMBFORGE_WEBHOOK_SECRET"])
    server = ThreadingHTTPServer((args.host, args.port), Receiver)
    print(f"listening on http://{args.host}:{server.server_port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

"""Verifies one webhook delivery with the `standardwebhooks` package, an
implementation of the spec independent of ours.

Reads {"secret", "headers", "body"} as JSON on stdin; prints the verified
payload; exits non-zero when the signature does not verify. The integration
suite runs it (`webhooks::*`)."""

import json
import sys

from standardwebhooks.webhooks import Webhook

message = json.load(sys.stdin)
payload = Webhook(message["secret"]).verify(message["body"], message["headers"])
print(json.dumps(payload))

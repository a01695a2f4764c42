// A webhook receiver that verifies thumbforge's signatures with the thumbforge
// package's verifyWebhook (the `standardwebhooks` package underneath,
// https://www.standardwebhooks.com).
//
//   THUMBFORGE_WEBHOOK_SECRET=whsec_… node webhook-receiver.mjs --port 9000
//
// The secret is your organisation's: GET /api/v1/webhooks/secret, or
// `new Thumbforge(…).webhookSecret()`. Each verified event is printed as one
// JSON line on stdout and answered 204; a delivery that does not verify is
// answered 400 and never printed. thumbforge retries anything that is not
// 2xx within 10 s with the same webhook-id, so duplicates are dropped by
// that id.

import { createServer } from "node:http";
import { parseArgs } from "node:util";

import { verifyWebhook, WebhookVerificationError } from "thumbforge";

const { values } = parseArgs({
  options: { host: { type: "string", default: "127.0.0.1" }, port: { type: "string", default: "9000" } },
});
const secret = process.env.THUMBFORGE_WEBHOOK_SECRET;
const seen = new Set();

const server = createServer((request, response) => {
  if (request.method !== "POST") {
    response.writeHead(405, { Allow: "POST" }).end();
    return;
  }
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    let event;
    try {
      event = verifyWebhook(secret, request.headers, Buffer.concat(chunks));
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      console.error(`rejected a delivery: ${error.detail}`);
      response.writeHead(400).end();
      return;
    }
    const id = request.headers["webhook-id"];
    if (!seen.has(id)) {
      seen.add(id);
      console.log(JSON.stringify(event));
    }
    response.writeHead(204).end();
  });
});

server.listen(Number(values.port), values.host, () => {
  console.error(`listening on http://${values.host}:${server.address().port}`);
});

// The package (dist/, as published) against a real `thumbforge serve`,
// started by scripts/clients.sh.

import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { test } from "node:test";

import {
  AuthenticationError,
  NotFound,
  Thumbforge,
  ThumbforgeError,
  ValidationError,
  verifyWebhook,
  WaitTimeout,
  WebhookVerificationError,
} from "../dist/index.js";
import { forward, needsServer, pngSize, problem, server, sleep, stub } from "./helpers.mjs";

const client = (options = {}) =>
  new Thumbforge({ baseUrl: server.url, apiKey: server.apiKey, timeoutMs: 10_000, maxRetries: 2, pollIntervalMs: 1000, ...options });

test("generate, wait and download give 1280x720 PNGs", needsServer, async () => {
  const tf = client();
  const accepted = await tf.generate("The TypeScript client made this", { count: 2, title: "TypeScript client" });
  assert.match(accepted.generationId, /^gen_/);
  assert.equal(accepted.thumbnailIds.length, 2);

  const seen = [];
  const generation = await tf.wait(accepted.generationId, { timeoutMs: 60_000, onUpdate: (g) => seen.push(g.status) });
  assert.equal(generation.status, "succeeded");
  assert.equal(seen.at(-1), "succeeded");
  assert.equal(generation.title, "TypeScript client");

  const dir = await mkdtemp(join(tmpdir(), "thumbforge-js-"));
  const paths = await tf.download(generation, join(dir, "thumbs"));
  assert.deepEqual(paths.map((p) => basename(p)).sort(), accepted.thumbnailIds.map((id) => `${id}.png`).sort());
  for (const path of paths) assert.deepEqual(await pngSize(path), [1280, 720]);
  assert.equal((await tf.download(generation.thumbnails[0], join(dir, "one"))).length, 1);
  assert.equal((await tf.download(accepted.generationId, join(dir, "by-id"))).length, 2);
});

test("cancel ends a waiting wait() with canceled, promptly", needsServer, async () => {
  const tf = client();
  const accepted = await tf.generate("[sleep:30000] a slow one", { model: "test" });
  const started = performance.now();
  const waiting = tf.wait(accepted.generationId, { timeoutMs: 30_000 });
  await sleep(1000);
  assert.equal((await tf.cancel(accepted.generationId)).status, "canceled");
  const generation = await waiting;
  assert.equal(generation.status, "canceled");
  assert.ok(generation.thumbnails.every((t) => t.status === "canceled"));
  assert.ok(performance.now() - started < 10_000, "the model sleeps 30 s; wait() must not");
  assert.equal((await tf.cancel(accepted.generationId)).status, "canceled");
});

test("wait() times out with the last state", needsServer, async () => {
  const tf = client();
  const accepted = await tf.generate("[sleep:30000] too slow to wait for", { model: "test" });
  const started = performance.now();
  await assert.rejects(tf.wait(accepted.generationId, { timeoutMs: 1500 }), (error) => {
    assert.ok(error instanceof WaitTimeout);
    assert.equal(error.code, "wait_timeout");
    assert.equal(error.generation?.status, "processing");
    return true;
  });
  const elapsed = performance.now() - started;
  assert.ok(elapsed > 1400 && elapsed < 4000, `waited ${elapsed} ms`);
  await tf.cancel(accepted.generationId);
});

test("a wrong key is an AuthenticationError with its code", needsServer, async () => {
  const wrong = new Thumbforge({ baseUrl: server.url, apiKey: `tfk_${"x".repeat(40)}` });
  await assert.rejects(wrong.generate("never made"), (error) => {
    assert.ok(error instanceof AuthenticationError);
    assert.ok(error instanceof ThumbforgeError);
    assert.equal(error.status, 401);
    assert.equal(error.code, "invalid_api_key");
    assert.equal(error.attempts, 1, "a 401 is not retried");
    return true;
  });
});

for (const [options, code] of [
  [{ count: 9 }, "invalid_count"],
  [{ aspectRatio: "5:4" }, "invalid_aspect_ratio"],
  [{ model: "no-such-model" }, "unknown_model"],
]) {
  test(`a bad request is a ValidationError: ${code}`, needsServer, async () => {
    await assert.rejects(client().generate("a thumbnail", options), (error) => {
      assert.ok(error instanceof ValidationError);
      assert.equal(error.status, 422);
      assert.equal(error.code, code);
      assert.ok(error.detail);
      return true;
    });
  });
}

test("an unknown generation is NotFound", needsServer, async () => {
  await assert.rejects(client().get("gen_00000000000000000000000000"), (error) => {
    assert.ok(error instanceof NotFound);
    assert.equal(error.code, "not_found");
    return true;
  });
});

test("wait() falls back to polling when the event stream fails", needsServer, async () => {
  // A proxy in front of the real server that refuses the event stream.
  const proxy = await stub((request) =>
    request.path.endsWith("/events") ? problem(404, "not_found", "no such route") : forward(server.url, request),
  );
  try {
    const tf = new Thumbforge({ baseUrl: proxy.url, apiKey: server.apiKey, pollIntervalMs: 500 });
    const accepted = await tf.generate("[sleep:1500] polled", { model: "test" });
    const generation = await tf.wait(accepted.generationId, { timeoutMs: 30_000 });
    assert.equal(generation.status, "succeeded");
    const gets = proxy.seen.filter((r) => r.method === "GET").map((r) => r.path);
    assert.ok(gets.includes(`/api/v1/generations/${accepted.generationId}/events`));
    const polls = gets.filter((p) => p === `/api/v1/generations/${accepted.generationId}`);
    assert.ok(polls.length >= 2, `expected polling after the stream failed, saw ${gets}`);
  } finally {
    await proxy.close();
  }
});

test("a webhook from the server verifies and a forgery does not", needsServer, async () => {
  const receiver = await stub(() => ({ status: 204 }));
  try {
    const tf = client();
    const secret = await tf.webhookSecret();
    assert.match(secret, /^whsec_/);
    const accepted = await tf.generate("webhook delivery", { webhookUrl: `${receiver.url}/hooks/thumbforge` });
    const deadline = performance.now() + 30_000;
    while (receiver.seen.length === 0 && performance.now() < deadline) await sleep(100);
    assert.ok(receiver.seen.length > 0, "no webhook delivery within 30 s");
    const delivery = receiver.seen[0];

    const event = verifyWebhook(secret, delivery.headers, delivery.body);
    assert.equal(event.type, "generation.completed");
    assert.equal(event.data.id, accepted.generationId);
    assert.equal(event.data.status, "succeeded");
    assert.deepEqual(Thumbforge.verifyWebhook(secret, new Headers(delivery.headers), delivery.body.toString()), event);

    const altered = Buffer.from(delivery.body.toString().replace("succeeded", "failed"));
    const { "webhook-signature": _, ...unsigned } = delivery.headers;
    for (const [headers, body, why] of [
      [delivery.headers, altered, "an altered body"],
      [{ ...delivery.headers, "webhook-signature": "v1,AAAA" }, delivery.body, "a made-up signature"],
      [unsigned, delivery.body, "no signature"],
    ]) {
      assert.throws(() => verifyWebhook(secret, headers, body), (error) => {
        assert.ok(error instanceof WebhookVerificationError, why);
        assert.equal(error.code, "invalid_webhook");
        return true;
      });
    }
    assert.throws(() => verifyWebhook(`whsec_${"A".repeat(43)}`, delivery.headers, delivery.body), WebhookVerificationError);
  } finally {
    await receiver.close();
  }
});

// Retries, timeouts and a server that is down, against local stubs
// (127.0.0.1 only): what a healthy server does not do on cue.

import assert from "node:assert/strict";
import { test } from "node:test";

import { ConnectionError, RateLimited, RequestTimeout, ServiceUnavailable, Thumbforge } from "../dist/index.js";
import { closedPort, problem, sleep, stub } from "./helpers.mjs";

test("a server that is down is a ConnectionError after the retries", async () => {
  const started = performance.now();
  const tf = new Thumbforge({ baseUrl: `http://127.0.0.1:${await closedPort()}`, apiKey: "tfk_x", maxRetries: 2, backoffMs: 50 });
  await assert.rejects(tf.get("gen_x"), (error) => {
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.code, "connection_error");
    assert.equal(error.status, undefined);
    assert.equal(error.attempts, 3);
    return true;
  });
  assert.ok(performance.now() - started < 2000);
});

test("a server that hangs is a RequestTimeout", async () => {
  const hanging = await stub(async () => {
    await sleep(2000);
    return { status: 200, body: "{}" };
  });
  try {
    const started = performance.now();
    const tf = new Thumbforge({ baseUrl: hanging.url, apiKey: "tfk_x", timeoutMs: 300, maxRetries: 1, backoffMs: 50 });
    await assert.rejects(tf.get("gen_x"), (error) => {
      assert.ok(error instanceof RequestTimeout);
      assert.equal(error.code, "timeout");
      assert.equal(error.attempts, 2);
      return true;
    });
    assert.ok(performance.now() - started < 1800);
  } finally {
    await hanging.close();
  }
});

test("429 and 503 are retried after Retry-After, with one Idempotency-Key", async () => {
  const answers = [
    problem(429, "rate_limited", "slow down", { "Retry-After": "1" }),
    problem(503, "database_unavailable", "the database is away", { "Retry-After": "1" }),
    {
      status: 202,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ generationId: "gen_stub", thumbnailIds: ["thm_stub"], status: "processing" }),
    },
  ];
  const busy = await stub(() => answers.shift());
  try {
    const tf = new Thumbforge({ baseUrl: busy.url, apiKey: "tfk_x", maxRetries: 3, backoffMs: 50 });
    const accepted = await tf.generate("retried");
    assert.equal(accepted.generationId, "gen_stub");
    assert.equal(busy.seen.length, 3);
    const keys = new Set(busy.seen.map((r) => r.headers["idempotency-key"]));
    assert.equal(keys.size, 1);
    assert.ok([...keys][0], "an Idempotency-Key on every try");
    const gaps = busy.seen.slice(1).map((r, i) => r.at - busy.seen[i].at);
    assert.ok(gaps.every((gap) => gap >= 950 && gap < 3000), `Retry-After: 1 not honoured: ${gaps}`);
    assert.deepEqual(JSON.parse(busy.seen[0].body.toString()), { prompt: "retried", count: 1 });
  } finally {
    await busy.close();
  }
});

test("429 after the retries is RateLimited with retryAfterMs", async () => {
  const limited = await stub(() => problem(429, "rate_limited", "slow down", { "Retry-After": "1" }));
  try {
    const tf = new Thumbforge({ baseUrl: limited.url, apiKey: "tfk_x", maxRetries: 1 });
    await assert.rejects(tf.get("gen_x"), (error) => {
      assert.ok(error instanceof RateLimited);
      assert.equal(error.status, 429);
      assert.equal(error.code, "rate_limited");
      assert.equal(error.retryAfterMs, 1000);
      assert.equal(error.attempts, 2);
      return true;
    });
    assert.equal(limited.seen.length, 2);
  } finally {
    await limited.close();
  }
});

test("a Retry-After beyond maxRetryWaitMs is not waited for", async () => {
  const away = await stub(() => problem(503, "queue_unavailable", "back in an hour", { "Retry-After": "3600" }));
  try {
    const started = performance.now();
    const tf = new Thumbforge({ baseUrl: away.url, apiKey: "tfk_x", maxRetries: 3, maxRetryWaitMs: 5000 });
    await assert.rejects(tf.get("gen_x"), (error) => {
      assert.ok(error instanceof ServiceUnavailable);
      assert.equal(error.code, "queue_unavailable");
      assert.equal(error.retryAfterMs, 3_600_000);
      return true;
    });
    assert.equal(away.seen.length, 1);
    assert.ok(performance.now() - started < 1000);
  } finally {
    await away.close();
  }
});

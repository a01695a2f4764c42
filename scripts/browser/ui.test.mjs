// The playground (/) and the queue dashboard (/admin), end to end in
// Debian's headless Chromium, against a real `thumbforge serve`.
//
//   node --test scripts/browser/ui.test.mjs   (THUMBFORGE_BIN = the binary)
//
// Screenshots go to $ARTIFACTS_DIR (default: artifacts/ at the repository
// root), which CI keeps.

import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = process.env.THUMBFORGE_BIN;
const ARTIFACTS = process.env.ARTIFACTS_DIR ?? join(ROOT, "artifacts");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
mkdirSync(ARTIFACTS, { recursive: true });

let server, base, key, adminKey, browser;
const work = mkdtempSync(join(tmpdir(), "thumbforge-browser-"));
const dataDir = join(work, "data");
const env = { ...process.env, RUST_LOG: "warn", THUMBFORGE_CONFIG: join(work, "thumbforge.toml") };
delete env.DATABASE_URL;
delete env.REDIS_URL;

function freePort() {
  return new Promise((done) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => done(port));
    });
  });
}

async function apiCall(path, options = {}, as = key) {
  const response = await fetch(`${base}${path}`, {
    ...options,
    headers: { Authorization: `Bearer ${as}`, "Content-Type": "application/json", ...options.headers },
  });
  const body = await response.json().catch(() => null);
  assert.ok(response.ok, `${path}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

async function waitFor(what, check, ms = 30_000) {
  const start = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    assert.ok(Date.now() - start < ms, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A page that fails the test on any script error or console error
 * (a CSP violation, a 404 for an asset, an exception). */
async function newPage() {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.problems = [];
  page.on("pageerror", (error) => page.problems.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && !/status of 4\d\d/.test(message.text())) {
      page.problems.push(`console: ${message.text()}`);
    }
  });
  page.on("requestfailed", (request) => {
    // A reload or navigation aborts the dashboard's periodic fetch: fine.
    if (request.failure()?.errorText !== "net::ERR_ABORTED") {
      page.problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`);
    }
  });
  page.on("request", (request) => {
    if (!request.url().startsWith(base) && !request.url().startsWith("data:")) {
      page.problems.push(`left the server: ${request.url()}`);
    }
  });
  return page;
}

before(async () => {
  assert.ok(BIN, "set THUMBFORGE_BIN to the thumbforge binary");
  writeFileSync(
    env.THUMBFORGE_CONFIG,
    "[models]\nenable_test_model = true\n" +
      "[limits.free]\nrequests_per_hour = 0\ngenerates_per_minute = 0\n" +
      "[limits.pro]\nrequests_per_hour = 0\ngenerates_per_minute = 0\n",
  );
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(BIN, ["--data-dir", dataDir, "serve", "--bind", `127.0.0.1:${port}`], { env, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  server.stdout.on("data", (chunk) => (out += chunk));
  key = await waitFor("the server's first key", () => out.match(/tfk_[A-Za-z0-9]+/)?.[0]);
  adminKey = execFileSync(BIN, ["--data-dir", dataDir, "keys", "create", "--org", "ops", "--scopes", "admin"], { env, encoding: "utf8" })
    .trim()
    .split("\n")
    .pop();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
});

test("the playground: key, submit, slots fill in, gallery, preview at YouTube's sizes", async () => {
  const page = await newPage();
  await page.goto(base + "/");
  // The key is entered once and kept in local storage.
  await page.fill("#api-key", key);
  await page.click("#key-form button[type=submit]");
  await page.reload();
  assert.equal(await page.evaluate(() => localStorage.getItem("thumbforge.apiKey")), key);
  await waitFor("models", async () => (await page.locator("#model option").count()) > 0);
  assert.equal(await page.inputValue("#model"), "local", "the server's default is chosen");

  // A refused request shows the server's problem, with its code.
  await page.fill("textarea[name=prompt]", "a reference that is not https");
  await page.fill("textarea[name=references]", "http://example.invalid/a.png");
  await page.click("#generate");
  await page.waitForSelector("#form-error:not([hidden])");
  assert.match(await page.textContent("#form-error"), /\(invalid_reference_url|insecure|https/i);

  await page.fill("textarea[name=references]", "");
  await page.fill("input[name=title]", "I built it in Rust");
  await page.fill("textarea[name=prompt]", "A developer at 3 a.m., neon code");
  await page.selectOption("select[name=count]", "2");
  await page.selectOption("select[name=format]", "jpeg");
  await page.click("#generate");
  await page.waitForSelector("#result:not([hidden])");
  assert.equal(await page.locator("[data-testid=slot]").count(), 2, "one slot per thumbnail at once");
  await page.waitForFunction(
    () => [...document.querySelectorAll("[data-testid=slot] img")].filter((img) => img.complete && img.naturalWidth === 1280 && img.naturalHeight === 720).length === 2,
    null,
    { timeout: 60_000 },
  );
  assert.equal(await page.textContent("#generation-status"), "succeeded");
  // The format asked for is the file served.
  for (const src of await page.$$eval("[data-testid=slot] img", (imgs) => imgs.map((img) => img.src))) {
    assert.match(src, /\/files\/thm_[^/?]+\.jpg\?/, src);
  }
  // It followed the event stream, and shows the title it was made for.
  assert.equal(await page.textContent("[data-testid=transport]"), "live (event stream)");
  assert.equal(await page.textContent("[data-testid=result-headline]"), "I built it in Rust");
  await page.screenshot({ path: join(ARTIFACTS, "playground.png"), fullPage: true });

  // The gallery lists it, newest first, with status, model and time.
  const generationId = await page.textContent("#generation-id");
  const card = page.locator(`[data-testid=gallery-card][data-id="${generationId}"]`);
  await card.waitFor();
  assert.match(await card.textContent(), /succeeded/);
  assert.match(await card.textContent(), /local/);
  assert.equal(await card.locator("[data-testid=gallery-title]").textContent(), "I built it in Rust");
  assert.equal(await card.locator("[data-testid=gallery-prompt]").textContent(), "A developer at 3 a.m., neon code");
  assert.equal(await card.locator("[data-testid=gallery-thumb]").count(), 2);

  // The preview shows it at 1280x720, 320x180 and 168x94.
  await card.locator("[data-testid=gallery-thumb]").first().click();
  await page.waitForSelector("#preview[open]");
  await page.waitForFunction(() => ["preview-full", "preview-feed", "preview-sidebar"].every((id) => document.getElementById(id).complete && document.getElementById(id).naturalWidth === 1280));
  for (const [id, width, height] of [["#preview-full", 1280, 720], ["#preview-feed", 320, 180], ["#preview-sidebar", 168, 94]]) {
    const size = await page.$eval(id, (img) => ({ width: img.clientWidth, height: img.clientHeight }));
    assert.deepEqual(size, { width, height }, `${id} is shown at ${width}x${height}`);
  }
  assert.equal(await page.textContent("#preview-title"), "I built it in Rust");
  await page.screenshot({ path: join(ARTIFACTS, "preview.png"), fullPage: true });
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("the playground falls back to polling when the event stream breaks", async () => {
  const page = await newPage();
  // The stream is cut before it answers; everything else goes through.
  await page.route("**/events", (route) => route.abort());
  page.removeAllListeners("requestfailed");
  page.on("requestfailed", (request) => {
    if (!request.url().endsWith("/events")) page.problems.push(`request failed: ${request.url()}`);
  });
  await page.goto(base + "/");
  await page.fill("#api-key", key);
  await page.click("#key-form button[type=submit]");
  await waitFor("models", async () => (await page.locator("#model option").count()) > 0);
  await page.fill("input[name=title]", "");
  await page.fill("textarea[name=prompt]", "[sleep:1500] made while polling");
  await page.selectOption("#model", "test");
  await page.click("#generate");
  await page.waitForFunction(() => document.getElementById("generation-status").textContent === "succeeded", null, { timeout: 30_000 });
  assert.equal(await page.textContent("[data-testid=transport]"), "polling (the event stream broke)");
  assert.equal(await page.textContent("[data-testid=result-headline]"), "[sleep:1500] made while polling");
  // The one problem is the stream this test cut.
  assert.deepEqual(page.problems, ["console: Failed to load resource: net::ERR_FAILED"]);
  await page.close();
});

test("the dashboard: an admin key, dead jobs, retry and discard", async () => {
  const failing = await apiCall("/api/v1/generate", { method: "POST", body: JSON.stringify({ prompt: "[fail]", model: "test" }) });
  const thumbnailId = failing.thumbnailIds[0];
  await waitFor("the failure", async () => (await apiCall(`/api/v1/generations/${failing.generationId}`)).status === "failed");

  const page = await newPage();
  await page.goto(base + "/admin");
  // A thumbnail key is not an admin key.
  await page.fill("#api-key", key);
  await page.click("#key-form button[type=submit]");
  await page.waitForSelector("#admin-error:not([hidden])");
  assert.match(await page.textContent("#admin-error"), /insufficient_scope/);

  await page.fill("#api-key", adminKey);
  await page.click("#key-form button[type=submit]");
  const row = page.locator(`[data-testid=dead-row][data-id="${thumbnailId}"]`);
  await row.waitFor();
  assert.match(await row.textContent(), /scripted failure/);
  assert.equal(await page.textContent("[data-testid=stat-dead] b"), "1");
  const before = (await apiCall("/api/v1/admin/queue", {}, adminKey)).dead[0].completedAt;

  // Retry: the job runs again (and, scripted to fail, fails again).
  await row.locator("[data-action=retry]").click();
  await page.waitForFunction((id) => document.getElementById("admin-notice").textContent.includes(`Retried ${id}`), thumbnailId);
  await waitFor("the retried job's second failure", async () => {
    const report = await apiCall("/api/v1/admin/queue", {}, adminKey);
    return report.dead.some((job) => job.thumbnailId === thumbnailId && job.completedAt > before);
  });

  // Discard: gone from the dead list, still failed.
  await page.reload();
  await row.waitFor();
  await row.locator("[data-action=discard]").click();
  await page.waitForFunction((id) => document.getElementById("admin-notice").textContent.includes(`Discarded ${id}`), thumbnailId);
  await row.waitFor({ state: "detached" });
  const after = await apiCall(`/api/v1/generations/${failing.generationId}`);
  assert.equal(after.thumbnails[0].status, "failed");
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("the dashboard: charts of the last hour, jobs by state and id, payload, bulk retry and discard", async () => {
  const made = [];
  for (const prompt of ["[fail] one", "[fail] two", "fine"]) {
    made.push(await apiCall("/api/v1/generate", { method: "POST", body: JSON.stringify({ prompt, title: `title of ${prompt}`, model: "test" }) }));
  }
  for (const g of made) {
    await waitFor("the end", async () => ["failed", "succeeded"].includes((await apiCall(`/api/v1/generations/${g.generationId}`)).status));
  }
  const [one, two] = made.map((g) => g.thumbnailIds[0]);

  const page = await newPage();
  await page.goto(base + "/admin");
  await page.fill("#api-key", adminKey);
  await page.click("#key-form button[type=submit]");
  // The charts count this minute's work.
  await page.waitForSelector("[data-testid=chart-failures] rect");
  assert.ok(Number(await page.getAttribute("[data-testid=chart-throughput]", "data-total")) >= 1);
  assert.ok(Number(await page.getAttribute("[data-testid=chart-failures]", "data-total")) >= 2);
  assert.match(await page.textContent("[data-testid=chart-failures]"), /model_error/);

  // Failed jobs are listed; a row opens its payload and error.
  const row = (id) => page.locator(`[data-testid=job-row][data-id="${id}"]`);
  await row(one).waitFor();
  await row(two).waitFor();
  await row(one).locator("td").nth(1).click();
  await page.waitForSelector("#job-detail[open]");
  const payload = JSON.parse(await page.textContent("[data-testid=job-payload]"));
  assert.equal(payload.prompt, "[fail] one");
  assert.equal(payload.title, "title of [fail] one");
  assert.match(await page.textContent("[data-testid=job-error]"), /scripted failure/);
  await page.screenshot({ path: join(ARTIFACTS, "dashboard-job.png"), fullPage: true });
  await page.click("#job-detail button");

  // Search by generation id finds just its job.
  await page.fill("#jobs-id", made[2].generationId);
  await page.click("#jobs-form button[type=submit]");
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=job-row]").length === 1);
  assert.equal(await page.getAttribute("[data-testid=job-row]", "data-id"), made[2].thumbnailIds[0]);

  // Bulk discard of the two failed jobs: both leave the dead list.
  await page.fill("#jobs-id", "");
  await page.selectOption("#jobs-status", "failed");
  await row(one).waitFor();
  await row(one).locator("[data-testid=job-select]").check();
  await row(two).locator("[data-testid=job-select]").check();
  assert.equal(await page.textContent("#bulk-discard"), "Discard selected (2)");
  await page.screenshot({ path: join(ARTIFACTS, "dashboard.png"), fullPage: true });
  await page.click("#bulk-discard");
  await page.waitForFunction(() => document.getElementById("admin-notice").textContent.startsWith("Discarded 2 of 2."));
  const report = await apiCall("/api/v1/admin/queue", {}, adminKey);
  assert.ok(!report.dead.some((job) => [one, two].includes(job.thumbnailId)), JSON.stringify(report.dead));
  // Bulk retry of a discarded (still failed) job runs it again.
  await row(one).locator("[data-testid=job-select]").check();
  await page.click("#bulk-retry");
  await page.waitForFunction(() => document.getElementById("admin-notice").textContent.startsWith("Retried 1 of 1."));
  assert.deepEqual(page.problems, []);
  await page.close();
});

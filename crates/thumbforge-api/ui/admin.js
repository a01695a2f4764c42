// The operator's queue dashboard: counts, dead and retrying jobs, with
// retry and discard actions. Refreshes every 3 seconds.

import { api, el, keyForm, storedKey, when } from "./api.js";

const KEY = "thumbforge.adminKey";
const call = (path, options) => api(KEY, path, options);
const $ = (id) => document.getElementById(id);

function stat(label, value, id) {
  return el("div", { class: "stat", "data-testid": `stat-${id}` }, el("b", {}, String(value ?? "–")), label);
}

function age(ms) {
  if (!ms) return "–";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}

async function act(action, thumbnailId) {
  try {
    await call(`/api/v1/admin/jobs/${encodeURIComponent(thumbnailId)}/${action}`, { method: "POST" });
    $("admin-notice").textContent = `${action === "retry" ? "Retried" : "Discarded"} ${thumbnailId}.`;
  } catch (error) {
    $("admin-notice").textContent = `${action} ${thumbnailId}: ${error.message}`;
  }
  await refresh();
}

function row(job, dead) {
  const actions = el(
    "td",
    {},
    dead ? el("button", { type: "button", "data-action": "retry", onclick: () => act("retry", job.thumbnailId) }, "Retry") : "",
    " ",
    el("button", { type: "button", "data-action": "discard", onclick: () => act("discard", job.thumbnailId) }, "Discard"),
  );
  return el(
    "tr",
    { "data-testid": dead ? "dead-row" : "retrying-row", "data-id": job.thumbnailId },
    el("td", {}, el("code", {}, job.thumbnailId)),
    el("td", {}, el("code", {}, job.generationId)),
    el("td", {}, String(job.attempts)),
    el("td", {}, when(dead ? job.completedAt : job.createdAt)),
    el("td", {}, dead ? job.error ?? "" : when(job.leaseExpiresAt)),
    actions,
  );
}

async function refresh() {
  if (!storedKey(KEY)) {
    $("admin-error").textContent = "Enter an admin key (thumbforge keys create --org ops --scopes admin).";
    $("admin-error").hidden = false;
    return;
  }
  try {
    const report = await call("/api/v1/admin/queue");
    $("admin-error").hidden = true;
    const { overview, queue } = report;
    $("stats").replaceChildren(
      stat("waiting", overview.waiting, "waiting"),
      stat("running", overview.running, "running"),
      stat("retrying", overview.retrying, "retrying"),
      stat("dead", overview.dead, "dead"),
      stat(`in the ${queue.kind} queue`, queue.depth, "depth"),
      stat("in flight", queue.inFlight, "in-flight"),
      stat("oldest waiting", age(overview.oldestWaitingAt), "oldest"),
    );
    $("dead").replaceChildren(...report.dead.map((job) => row(job, true)));
    $("retrying").replaceChildren(...report.retrying.map((job) => row(job, false)));
    $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    $("admin-error").textContent = error.message;
    $("admin-error").hidden = false;
  }
}

keyForm(KEY, refresh);
refresh();
setInterval(refresh, 3000);

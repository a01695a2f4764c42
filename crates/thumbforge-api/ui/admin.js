// The operator's queue dashboard: counts, charts of the last hour, jobs by
// state or id with their payload and error, bulk retry and discard, and
// the dead and retrying lists. Counts refresh every 3 seconds, charts
// every 30.

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

// Charts: one SVG of bars per measure, a bar a minute.
const REASON_COLOURS = ["#b3261e", "#e8710a", "#9334e6", "#1a73e8", "#12b5cb", "#f9ab00", "#5f6368", "#188038"];
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

/** Stacked bars: series is [{name, colour, values}] over the same minutes. */
function chart(id, title, unit, minutes, series, { legend: keyed = false } = {}) {
  const totals = minutes.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const max = Math.max(1e-9, ...totals);
  const width = 600;
  const height = 90;
  const step = width / minutes.length;
  const box = svg("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", role: "img", "aria-label": title });
  minutes.forEach((minute, i) => {
    let top = height;
    for (const s of series) {
      const value = s.values[i] ?? 0;
      if (!value) continue;
      const h = (value / max) * (height - 4);
      top -= h;
      const bar = svg("rect", { x: i * step + 1, y: top, width: Math.max(1, step - 2), height: h, fill: s.colour });
      bar.append(svg("title", {}));
      bar.firstChild.textContent = `${new Date(minute.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })} ${s.name}: ${round(value)}${unit}`;
      box.append(bar);
    }
  });
  const latest = totals.at(-2) ?? totals.at(-1) ?? 0;
  // A style property, not a style attribute: the page's CSP allows no inline styles.
  const swatch = (colour) => {
    const i = el("i");
    i.style.background = colour;
    return i;
  };
  const legend = keyed ? el("div", { class: "legend" }, ...series.flatMap((s) => [swatch(s.colour), s.name])) : "";
  const axis = el("div", { class: "axis" }, el("span", {}, `${minutes.length - 1} min ago`), el("span", {}, "now"));
  return el(
    "figure",
    { class: "chart", "data-testid": `chart-${id}`, "data-total": String(round(totals.reduce((a, b) => a + b, 0))) },
    el("figcaption", {}, `${title} · last full minute `, el("b", {}, `${round(latest)}${unit}`), ` · peak ${round(max === 1e-9 ? 0 : max)}${unit}`),
    box,
    axis,
    legend,
  );
}

function round(value) {
  return value >= 10 ? Math.round(value) : Math.round(value * 10) / 10;
}

async function refreshCharts() {
  if (!storedKey(KEY)) return;
  try {
    const { minutes } = await call("/api/v1/admin/stats?minutes=60");
    const reasons = [...new Set(minutes.flatMap((m) => Object.keys(m.failed)))].sort();
    $("charts").replaceChildren(
      chart("throughput", "Thumbnails made", "/min", minutes, [{ name: "succeeded", colour: "#1f7a3a", values: minutes.map((m) => m.succeeded) }]),
      chart("wait", "Mean wait for a worker", " s", minutes, [{ name: "wait", colour: "#1a73e8", values: minutes.map((m) => (m.meanWaitMs ?? 0) / 1000) }]),
      chart("in-flight", "Mean in flight", "", minutes, [{ name: "in flight", colour: "#9334e6", values: minutes.map((m) => m.inFlight) }]),
      chart(
        "failures",
        "Failures by reason",
        "/min",
        minutes,
        reasons.map((reason, i) => ({ name: reason, colour: REASON_COLOURS[i % REASON_COLOURS.length], values: minutes.map((m) => m.failed[reason] ?? 0) })),
        { legend: true },
      ),
    );
  } catch (error) {
    $("charts").replaceChildren(el("p", { class: "error" }, error.message));
  }
}

// Jobs by state or id, with bulk actions and a detail view.
const selected = new Set();

function showSelection() {
  $("bulk-retry").disabled = selected.size === 0;
  $("bulk-discard").disabled = selected.size === 0;
  $("bulk-retry").textContent = `Retry selected (${selected.size})`;
  $("bulk-discard").textContent = `Discard selected (${selected.size})`;
}

function jobRow(job) {
  const box = el("input", { type: "checkbox", "aria-label": `select ${job.thumbnailId}`, "data-testid": "job-select", checked: selected.has(job.thumbnailId) });
  box.addEventListener("click", (event) => event.stopPropagation());
  box.addEventListener("change", () => {
    if (box.checked) selected.add(job.thumbnailId);
    else selected.delete(job.thumbnailId);
    showSelection();
  });
  return el(
    "tr",
    { class: "job", "data-testid": "job-row", "data-id": job.thumbnailId, onclick: () => openJob(job.thumbnailId) },
    el("td", {}, box),
    el("td", {}, el("code", {}, job.thumbnailId)),
    el("td", {}, el("code", {}, job.generationId)),
    el("td", {}, el("span", { class: "badge", "data-status": job.status }, job.status)),
    el("td", {}, String(job.attempts)),
    el("td", {}, when(job.completedAt)),
    el("td", {}, job.endReason ?? ""),
    el("td", {}, job.error ?? ""),
  );
}

async function loadJobs() {
  if (!storedKey(KEY)) return;
  const id = $("jobs-id").value.trim();
  const query = id ? `id=${encodeURIComponent(id)}` : `status=${encodeURIComponent($("jobs-status").value)}`;
  try {
    const { data } = await call(`/api/v1/admin/jobs?${query}&limit=100`);
    $("jobs").replaceChildren(...data.map(jobRow));
    $("jobs-empty").hidden = data.length > 0;
  } catch (error) {
    $("admin-notice").textContent = `jobs: ${error.message}`;
  }
}

async function openJob(id) {
  try {
    const { job, payload } = await call(`/api/v1/admin/jobs/${encodeURIComponent(id)}`);
    $("job-detail-id").textContent = id;
    $("job-detail-error").textContent = job.error ? `${job.endReason ?? "error"}: ${job.error}` : "";
    $("job-detail-error").hidden = !job.error;
    $("job-detail-payload").textContent = JSON.stringify(payload, null, 2);
    $("job-detail-job").textContent = JSON.stringify(job, null, 2);
    $("job-detail").showModal();
  } catch (error) {
    $("admin-notice").textContent = `${id}: ${error.message}`;
  }
}

async function bulk(action) {
  const ids = [...selected];
  if (!ids.length) return;
  try {
    const report = await call(`/api/v1/admin/jobs/${action}`, { method: "POST", body: JSON.stringify({ thumbnailIds: ids }) });
    const refused = report.results.filter((r) => !r.action);
    const verb = action === "retry" ? "Retried" : "Discarded";
    $("admin-notice").textContent =
      `${verb} ${report.done} of ${ids.length}.` + (refused.length ? ` Refused: ${refused.map((r) => `${r.thumbnailId} (${r.code})`).join(", ")}.` : "");
  } catch (error) {
    $("admin-notice").textContent = `${action}: ${error.message}`;
  }
  selected.clear();
  $("select-all").checked = false;
  showSelection();
  await Promise.all([loadJobs(), refresh()]);
}

$("jobs-form").addEventListener("submit", (event) => {
  event.preventDefault();
  selected.clear();
  showSelection();
  loadJobs();
});
$("jobs-status").addEventListener("change", () => {
  $("jobs-id").value = "";
  selected.clear();
  showSelection();
  loadJobs();
});
$("select-all").addEventListener("change", (event) => {
  for (const row of $("jobs").querySelectorAll("tr")) {
    const id = row.dataset.id;
    const box = row.querySelector("input[type=checkbox]");
    box.checked = event.target.checked;
    if (event.target.checked) selected.add(id);
    else selected.delete(id);
  }
  showSelection();
});
$("bulk-retry").addEventListener("click", () => bulk("retry"));
$("bulk-discard").addEventListener("click", () => bulk("discard"));

keyForm(KEY, () => {
  refresh();
  refreshCharts();
  loadJobs();
});
refresh();
refreshCharts();
loadJobs();
showSelection();
setInterval(refresh, 3000);
setInterval(refreshCharts, 30_000);

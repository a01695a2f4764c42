// The playground: submit a generation, watch its slots fill in (over the
// generation's event stream, polling once a second if the stream breaks),
// browse recent generations and preview a thumbnail at YouTube's display
// sizes.

import { api, el, keyForm, storedKey, stream, when } from "./api.js";

const KEY = "thumbforge.apiKey";
const call = (path, options) => api(KEY, path, options);
const $ = (id) => document.getElementById(id);
const TERMINAL = ["succeeded", "failed", "partial", "canceled"];

async function loadModels() {
  const select = $("model");
  select.replaceChildren();
  if (!storedKey(KEY)) return;
  try {
    const { data } = await call("/api/v1/models");
    for (const model of data) {
      const label = model.available ? model.name : `${model.name} (not available)`;
      select.append(el("option", { value: model.name, disabled: !model.available, selected: model.default }, label));
    }
  } catch (error) {
    showError(error);
  }
}

function showError(error) {
  const box = $("form-error");
  box.textContent = error ? error.message : "";
  box.hidden = !error;
}

function body(form) {
  const data = new FormData(form);
  const request = {
    prompt: data.get("prompt").trim(),
    count: Number(data.get("count")),
    aspectRatio: data.get("aspectRatio"),
    format: data.get("format"),
  };
  const title = data.get("title").trim();
  if (title) request.title = title;
  if (data.get("model")) request.model = data.get("model");
  const references = data.get("references").split("\n").map((line) => line.trim()).filter(Boolean);
  if (references.length) {
    request.referenceImageUrl = references[0];
    if (references.length > 1) request.youtubeReferences = references.slice(1);
  }
  return request;
}

function ordinal(n) {
  const suffix = [11, 12, 13].includes(n % 100) ? "th" : { 1: "st", 2: "nd", 3: "rd" }[n % 10] ?? "th";
  return `${n}${suffix}`;
}

/** Where a processing thumbnail stands: "queued, 3rd in line", "queued" or "rendering". */
function stage(thumbnail) {
  const progress = thumbnail.progress;
  if (!progress) return "queued";
  if (progress.stage === "queued" && progress.queuePosition) return `queued, ${ordinal(progress.queuePosition)} in line`;
  return progress.stage;
}

function renderSlots(generation, title) {
  $("result").hidden = false;
  $("generation-id").textContent = generation.id ?? generation.generationId;
  $("result-headline").textContent = generation.title ?? generation.prompt ?? title;
  const status = $("generation-status");
  status.textContent = generation.status;
  status.dataset.status = generation.status;
  const slots = $("slots");
  const thumbnails = generation.thumbnails ?? generation.thumbnailIds.map((id) => ({ id, status: "processing" }));
  thumbnails.forEach((thumbnail, i) => {
    let slot = slots.children[i];
    if (!slot) {
      slot = el("div", { class: "slot", "data-testid": "slot" });
      slots.append(slot);
    }
    const shown = thumbnail.status === "processing" ? `processing: ${stage(thumbnail)}` : thumbnail.status;
    if (slot.dataset.shown === shown) return;
    slot.dataset.shown = shown;
    slot.dataset.state = thumbnail.status;
    slot.dataset.id = thumbnail.id;
    if (thumbnail.status === "succeeded" && thumbnail.url) {
      slot.replaceChildren(el("img", { src: thumbnail.url, alt: `thumbnail ${i + 1}`, onclick: () => preview(thumbnail.url, title) }));
    } else if (thumbnail.status === "processing") {
      slot.replaceChildren(`${stage(thumbnail)} · ${i + 1} of ${thumbnails.length}`);
    } else {
      slot.replaceChildren(`${thumbnail.status}: ${thumbnail.error ?? ""}`);
    }
  });
}

async function generate(event) {
  event.preventDefault();
  showError(null);
  const form = event.target;
  const button = $("generate");
  button.disabled = true;
  try {
    const request = body(form);
    const accepted = await call("/api/v1/generate", { method: "POST", body: JSON.stringify(request) });
    $("slots").replaceChildren();
    $("transport").textContent = "";
    renderSlots(accepted, request.title ?? request.prompt);
    await follow(accepted.generationId, request.title ?? request.prompt);
    await loadGallery();
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
  }
}

/** Shows a generation's changes until it ends: its event stream, else polling. */
async function follow(id, title) {
  let last;
  const show = (generation) => {
    last = generation;
    renderSlots(generation, title);
  };
  const path = `/api/v1/generations/${encodeURIComponent(id)}`;
  try {
    await stream(KEY, `${path}/events`, (name, data) => {
      if (name === "generation" || name === "done") show(data);
      else if (name === "thumbnail" && last) {
        const thumbnails = last.thumbnails.map((t) => (t.id === data.id ? data : t));
        show({ ...last, thumbnails });
      }
    });
    $("transport").textContent = "live (event stream)";
  } catch {
    $("transport").textContent = "polling (the event stream broke)";
  }
  while (!last || !TERMINAL.includes(last.status)) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    show(await call(path));
  }
}

async function loadGallery() {
  const gallery = $("gallery");
  if (!storedKey(KEY)) {
    gallery.replaceChildren();
    return;
  }
  try {
    const { data } = await call("/api/v1/generations?limit=12");
    $("gallery-empty").hidden = data.length > 0;
    gallery.replaceChildren(...data.map(card));
  } catch (error) {
    gallery.replaceChildren(el("p", { class: "error" }, error.message));
  }
}

function card(generation) {
  const headline = generation.title ?? generation.prompt;
  const thumbs = generation.thumbnails.map((thumbnail) =>
    thumbnail.url
      ? el("img", { src: thumbnail.url, alt: headline, loading: "lazy", "data-testid": "gallery-thumb", onclick: () => preview(thumbnail.url, headline) })
      : el("span", { class: "missing", title: thumbnail.error ?? "" }, thumbnail.status),
  );
  return el(
    "article",
    { class: "card", "data-testid": "gallery-card", "data-id": generation.id },
    el(
      "div",
      { class: "meta" },
      el("strong", { class: "headline", "data-testid": "gallery-title", title: generation.prompt }, headline),
      el("br"),
      generation.title ? el("span", { class: "muted prompt", "data-testid": "gallery-prompt" }, generation.prompt) : "",
      generation.title ? el("br") : "",
      el("span", { class: "badge", "data-status": generation.status }, generation.status),
      " ",
      el("code", {}, generation.model),
      el("br"),
      el("span", { class: "muted" }, when(generation.createdAt)),
      el("br"),
      el("code", { class: "muted" }, generation.id),
    ),
    el("div", { class: "thumbs" }, ...thumbs),
  );
}

function preview(url, title) {
  for (const id of ["preview-full", "preview-feed", "preview-sidebar"]) $(id).src = url;
  $("preview-open").href = url;
  $("preview-title").textContent = title;
  $("preview-title-small").textContent = title;
  $("preview").showModal();
}

keyForm(KEY, () => {
  loadModels();
  loadGallery();
});
$("generate-form").addEventListener("submit", generate);
$("refresh-gallery").addEventListener("click", loadGallery);
loadModels();
loadGallery();

// The pages' one way to call the API: the key from this browser's local
// storage, problem+json errors turned into Error("detail (code)").

export function storedKey(name) {
  return localStorage.getItem(name) ?? "";
}

export function keyForm(name, onChange) {
  const form = document.getElementById("key-form");
  const input = document.getElementById("api-key");
  const status = document.getElementById("key-status");
  const show = () => {
    const saved = storedKey(name) !== "";
    status.hidden = !saved;
    input.placeholder = saved ? "•••••••• (saved)" : "tfk_…";
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (key) localStorage.setItem(name, key);
    input.value = "";
    show();
    onChange();
  });
  document.getElementById("forget-key").addEventListener("click", () => {
    localStorage.removeItem(name);
    show();
    onChange();
  });
  show();
}

export async function api(keyName, path, options = {}) {
  const key = storedKey(keyName);
  if (!key) throw new Error("Enter your API key first (top right).");
  const response = await fetch(path, {
    ...options,
    headers: { Authorization: `Bearer ${key}`, ...(options.body ? { "Content-Type": "application/json" } : {}), ...options.headers },
  });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    throw new Error(`${problem.detail ?? response.statusText} (${problem.code ?? response.status})`);
  }
  return response.status === 204 ? null : response.json();
}

/**
 * Reads a Server-Sent Events stream with the stored key (EventSource cannot
 * send an Authorization header), calling onEvent(name, data) for each event.
 * Resolves when the server ends the stream; rejects when it cannot be read.
 */
export async function stream(keyName, path, onEvent, signal) {
  const response = await fetch(path, {
    headers: { Authorization: `Bearer ${storedKey(keyName)}`, Accept: "text/event-stream" },
    signal,
  });
  if (!response.ok || !response.body) throw new Error(`event stream: ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children);
  return node;
}

export function when(ms) {
  return ms ? new Date(ms).toLocaleString() : "–";
}

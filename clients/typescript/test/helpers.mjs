// Test helpers: the real server that scripts/clients.sh started, and small
// HTTP stubs on 127.0.0.1 for what a healthy server never does on cue
// (answer 429 or 503, hang, lose its event stream).

import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { createServer as createNetServer } from "node:net";

/** THUMBFORGE_TEST_URL and THUMBFORGE_TEST_API_KEY, set by scripts/clients.sh. */
export const server = {
  url: process.env.THUMBFORGE_TEST_URL,
  apiKey: process.env.THUMBFORGE_TEST_API_KEY,
};
/** For `test(name, needsServer, fn)`: skipped, with the reason, when run alone. */
export const needsServer = {
  skip: server.url && server.apiKey ? false : "needs a server: run bash scripts/clients.sh",
};

/** An HTTP server on 127.0.0.1 whose every answer `handler(request)`
 * decides (`{status, headers, body}`); `seen` records what it was sent. */
export async function stub(handler) {
  const seen = [];
  const http = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const request = {
        method: req.method,
        path: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks),
        at: performance.now(),
      };
      seen.push(request);
      const reply = await handler(request);
      res.writeHead(reply.status, reply.headers ?? {});
      res.end(reply.body ?? "");
    });
  });
  await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${http.address().port}`,
    seen,
    close() {
      http.closeAllConnections();
      return new Promise((resolve) => http.close(resolve));
    },
  };
}

export function problem(status, code, detail, headers = {}) {
  return {
    status,
    headers: { "Content-Type": "application/problem+json", ...headers },
    body: JSON.stringify({ type: "about:blank", title: "", status, detail, code }),
  };
}

/** Passes a request on to `target`, as a reverse proxy would. */
export async function forward(target, request) {
  const headers = { ...request.headers };
  delete headers.host;
  delete headers.connection;
  const response = await fetch(target + request.path, {
    method: request.method,
    headers,
    body: request.body.length ? request.body : undefined,
  });
  const body = Buffer.from(await response.arrayBuffer());
  const out = {};
  response.headers.forEach((value, name) => {
    if (!["transfer-encoding", "connection", "content-length", "content-encoding", "keep-alive"].includes(name)) {
      out[name] = value;
    }
  });
  return { status: response.status, headers: out, body };
}

/** A loopback port nothing listens on: connecting is refused at once. */
export async function closedPort() {
  const net = createNetServer();
  await new Promise((resolve) => net.listen(0, "127.0.0.1", resolve));
  const { port } = net.address();
  await new Promise((resolve) => net.close(resolve));
  return port;
}

/** A PNG's width and height from its header; throws if it is not a PNG. */
export async function pngSize(path) {
  const head = (await readFile(path)).subarray(0, 24);
  if (!head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    throw new Error(`${path} is not a PNG`);
  }
  return [head.readUInt32BE(16), head.readUInt32BE(20)];
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

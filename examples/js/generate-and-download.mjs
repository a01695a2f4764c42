// Generate thumbnails, wait for them, download the PNGs.
//
//   THUMBFORGE_URL=http://127.0.0.1:8080 THUMBFORGE_API_KEY=tfk_… \
//     node generate-and-download.mjs "I built a Rust web service in 24 hours" --count 2 --out thumbs
//
// Prints one downloaded path per line. Exits 0 when every thumbnail
// succeeded, 1 when the generation failed or was partial (after downloading
// what succeeded), 2 on a bad request (the server's problem on stderr).

import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";

import { generate, waitForGeneration } from "./thumbforge.mjs";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    count: { type: "string", default: "1" },
    model: { type: "string" },
    out: { type: "string", default: "." },
    interval: { type: "string", default: "3000" },
    "webhook-url": { type: "string" },
  },
});
const apiKey = process.env.THUMBFORGE_API_KEY;
if (!apiKey || positionals.length !== 1) {
  console.error("usage: THUMBFORGE_API_KEY=… node generate-and-download.mjs PROMPT [--count N] [--out DIR]");
  process.exit(2);
}

const body = { prompt: positionals[0], count: Number(values.count) };
if (values.model) body.model = values.model;
if (values["webhook-url"]) body.webhookUrl = values["webhook-url"];

let accepted;
try {
  accepted = await generate(body, apiKey);
} catch (error) {
  console.error(`error: ${error.problem?.detail ?? error.message} (${error.problem?.code})`);
  process.exit(2);
}
const { generationId } = accepted;
console.error(`generation ${generationId} accepted; polling`);

const data = await waitForGeneration(generationId, apiKey, Number(values.interval));
await mkdir(values.out, { recursive: true });
for (const thumbnail of data.thumbnails) {
  if (thumbnail.status !== "succeeded" || !thumbnail.url) {
    console.error(`${thumbnail.id}: ${thumbnail.status}: ${thumbnail.error}`);
    continue;
  }
  const png = await fetch(thumbnail.url);
  if (!png.ok) throw new Error(`Download failed: ${png.status}`);
  const path = join(values.out, `${thumbnail.id}.png`);
  await writeFile(path, Buffer.from(await png.arrayBuffer()));
  console.log(path);
}
console.error(`generation ${generationId}: ${data.status}`);
process.exit(data.status === "succeeded" ? 0 : 1);

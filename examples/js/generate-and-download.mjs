// Generate thumbnails, wait for them, download the PNGs.
//
//   THUMBFORGE_URL=http://127.0.0.1:8080 THUMBFORGE_API_KEY=tfk_… \
//     node generate-and-download.mjs "I built a Rust web service in 24 hours" --count 2 --out thumbs
//
// Prints one downloaded path per line. Exits 0 when every thumbnail
// succeeded, 1 when the generation failed, was partial or was canceled
// (after downloading what succeeded), 2 when the request was refused or the
// server could not be reached (the error and its code on stderr).
//
// Uses the thumbforge package (clients/typescript; see ../README.md).

import { parseArgs } from "node:util";

import { Thumbforge, ThumbforgeError } from "thumbforge";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    count: { type: "string", default: "1" },
    model: { type: "string" },
    title: { type: "string" },
    out: { type: "string", default: "." },
    // Milliseconds between polls, if the event stream is unavailable.
    interval: { type: "string", default: "3000" },
    "webhook-url": { type: "string" },
  },
});
const apiKey = process.env.THUMBFORGE_API_KEY;
if (!apiKey || positionals.length !== 1) {
  console.error("usage: THUMBFORGE_API_KEY=… node generate-and-download.mjs PROMPT [--count N] [--out DIR]");
  process.exit(2);
}

const tf = new Thumbforge({
  baseUrl: process.env.THUMBFORGE_URL ?? "http://127.0.0.1:8080",
  apiKey,
  pollIntervalMs: Number(values.interval),
});

let accepted;
try {
  accepted = await tf.generate(positionals[0], {
    count: Number(values.count),
    model: values.model,
    title: values.title,
    webhookUrl: values["webhook-url"],
  });
} catch (error) {
  if (!(error instanceof ThumbforgeError)) throw error;
  console.error(`error: ${error.detail} (${error.code})`);
  process.exit(2);
}
console.error(`generation ${accepted.generationId} accepted; waiting`);

const generation = await tf.wait(accepted.generationId);
for (const thumbnail of generation.thumbnails) {
  if (thumbnail.status !== "succeeded") console.error(`${thumbnail.id}: ${thumbnail.status}: ${thumbnail.error}`);
}
for (const path of await tf.download(generation, values.out)) console.log(path);
console.error(`generation ${generation.id}: ${generation.status}`);
process.exit(generation.status === "succeeded" ? 0 : 1);

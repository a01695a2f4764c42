// The hand-written layer over the generated types (src/generated/schema.ts)
// and openapi-fetch, which makes the typed calls.
//
// It adds what a caller of a thumbnail service needs: retries that honour
// Retry-After, one Idempotency-Key per generate() so a retried generate never
// makes two generations, wait() over the event stream with polling as the
// fallback, downloads, typed errors and webhook checks.
//
// Refusals become typed errors in one place, an openapi-fetch middleware, so
// the same holds for anyone who calls the API through `client.api`.

import { randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { createParser, type EventSourceMessage } from "eventsource-parser";
import createClient, { type Client, type Middleware } from "openapi-fetch";
import { Webhook, WebhookVerificationError as StandardWebhooksError } from "standardwebhooks";

import {
  Conflict,
  ConnectionError,
  errorFromResponse,
  RateLimited,
  RequestTimeout,
  ServerError,
  ThumbforgeError,
  WaitTimeout,
  WebhookVerificationError,
} from "./errors.js";
import type { paths } from "./generated/schema.js";
import type {
  AspectRatio,
  Format,
  GenerateBody,
  GenerateResponse,
  Generation,
  GenerationStatus,
  Thumbnail,
  WebhookEvent,
  WebhookEvents,
} from "./types.js";

export const VERSION = "0.1.0";

/** A thumbnail's file name extension by its format. */
const EXTENSIONS: Record<Format, string> = { png: "png", jpeg: "jpg", webp: "webp" };

/** A generation in one of these statuses never changes again. */
export const TERMINAL: ReadonlySet<GenerationStatus> = new Set(["succeeded", "failed", "partial", "canceled"]);

// The event stream sends a comment every 15 s: a stream quiet for longer is lost.
const STREAM_IDLE_MS = 20_000;

export interface ThumbforgeOptions {
  /** The server, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** An API key (`tfk_…`). */
  apiKey: string;
  /** Bound on every request, in milliseconds (default 30 000). */
  timeoutMs?: number;
  /** Retries of a request that failed for a passing reason (default 3). */
  maxRetries?: number;
  /** First backoff when the server gives no Retry-After, doubling (default 500 ms). */
  backoffMs?: number;
  /** A Retry-After longer than this is not waited for (default 60 000 ms). */
  maxRetryWaitMs?: number;
  /** wait()'s polling interval when the event stream is unavailable (default 3 000 ms). */
  pollIntervalMs?: number;
  /** A fetch to use instead of the global one. */
  fetch?: typeof globalThis.fetch;
}

export interface GenerateOptions {
  count?: number;
  model?: string;
  aspectRatio?: AspectRatio | (string & {});
  title?: string;
  webhookUrl?: string;
  webhookEvents?: WebhookEvents;
  styleId?: string;
  personIds?: string[];
  inspirationIds?: string[];
  referenceImageUrl?: string;
  youtubeReferences?: string[];
  provider?: string;
  /** `png` (default), `jpeg` or `webp`; every file is at most 2 MB. */
  format?: Format;
  /** Sent as Idempotency-Key; by default one is made for this call. */
  idempotencyKey?: string;
}

export interface WaitOptions {
  /** Give up after this long (default 600 000 ms); the generation keeps running. */
  timeoutMs?: number;
  /** Sees each state on the way. */
  onUpdate?: (generation: Generation) => void;
}

type Call<T> = (signal: AbortSignal) => Promise<{ data?: T; response: Response }>;

/** A thumbforge server, as one organisation's API key sees it.
 *
 * Requests that fail for a passing reason (connection refused or reset, a
 * timeout, 429, 502, 503, 504, an Idempotency-Key still in progress) are
 * retried up to `maxRetries` times, waiting what Retry-After says, else
 * `backoffMs` doubling each time. Every request this class makes is safe to
 * repeat: reads, cancel, and generate, which sends one Idempotency-Key on
 * every try. */
export class Thumbforge {
  /** The openapi-fetch client, typed by the spec, for every other operation;
   * refusals throw the typed errors here too. */
  readonly api: Client<paths>;
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly backoffMs: number;
  readonly maxRetryWaitMs: number;
  readonly pollIntervalMs: number;
  private readonly fetch: typeof globalThis.fetch;

  constructor(options: ThumbforgeOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxRetries = options.maxRetries ?? 3;
    this.backoffMs = options.backoffMs ?? 500;
    this.maxRetryWaitMs = options.maxRetryWaitMs ?? 60_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 3_000;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.api = createClient<paths>({
      baseUrl: this.baseUrl,
      headers: { Authorization: `Bearer ${options.apiKey}`, "User-Agent": `thumbforge-js/${VERSION}` },
      fetch: (request) => this.fetch(request),
    });
    this.api.use(problemsAsErrors);
  }

  /** POST /api/v1/generate: accepted at once; wait() for the end. The server
   * checks every field (a count of 9 is a ValidationError `invalid_count`). */
  async generate(prompt: string, options: GenerateOptions = {}): Promise<GenerateResponse> {
    const { idempotencyKey, aspectRatio, count, ...rest } = options;
    const body: GenerateBody = { ...rest, prompt, count: count ?? 1 };
    if (aspectRatio !== undefined) body.aspectRatio = aspectRatio as AspectRatio;
    const key = idempotencyKey ?? `thumbforge-js-${randomUUID()}`;
    const data = await this.retrying((signal) =>
      this.api.POST("/api/v1/generate", { body, params: { header: { "Idempotency-Key": key } }, signal }),
    );
    if ("id" in data) {
      // A 200 (a caller's own Prefer: wait); not sent here.
      return { generationId: data.id, thumbnailIds: data.thumbnails.map((t) => t.id), status: data.status };
    }
    return data;
  }

  /** GET /api/v1/generations/{id}: the generation as it stands. */
  get(id: string): Promise<Generation> {
    return this.retrying((signal) => this.api.GET("/api/v1/generations/{id}", { params: { path: { id } }, signal }));
  }

  /** POST /api/v1/generations/{id}/cancel: every unfinished thumbnail becomes
   * `canceled`; an ended generation is answered unchanged. */
  cancel(id: string): Promise<Generation> {
    return this.retrying((signal) =>
      this.api.POST("/api/v1/generations/{id}/cancel", { params: { path: { id } }, signal }),
    );
  }

  /** Resolves when the generation ends (`succeeded`, `partial`, `failed` or
   * `canceled`). Follows GET /api/v1/generations/{id}/events; if the stream
   * cannot be had or breaks off, polls every `pollIntervalMs` instead.
   * Rejects with WaitTimeout after `timeoutMs`. */
  async wait(id: string, options: WaitOptions = {}): Promise<Generation> {
    const deadline = Date.now() + (options.timeoutMs ?? 600_000);
    let last: Generation | undefined;
    const update = (generation: Generation) => {
      if (options.onUpdate && JSON.stringify(generation) !== JSON.stringify(last)) options.onUpdate(generation);
      last = generation;
    };
    try {
      const ended = await this.follow(id, deadline, update);
      if (ended) return ended;
    } catch {
      // No stream (an older server, a proxy that buffers or refuses it, a
      // broken connection): polling says the same, more slowly, and throws
      // the typed error if the generation itself is the problem.
    }
    for (;;) {
      if (Date.now() >= deadline) {
        throw new WaitTimeout(`generation ${id} still ${last?.status ?? "unknown"} after the wait's timeout`, last);
      }
      const generation = await this.get(id);
      update(generation);
      if (TERMINAL.has(generation.status)) return generation;
      await sleep(Math.min(this.pollIntervalMs, Math.max(0, deadline - Date.now())));
    }
  }

  /** Writes each succeeded thumbnail of a generation (or one thumbnail, or the
   * generation with this id) to `dir/{thumbnail id}.{png,jpg,webp}`; resolves to the
   * paths. Thumbnails that did not succeed are skipped. */
  async download(item: Generation | Thumbnail | string, dir = "."): Promise<string[]> {
    const resolved = typeof item === "string" ? await this.get(item) : item;
    const thumbnails = "thumbnails" in resolved ? resolved.thumbnails : [resolved];
    await mkdir(dir, { recursive: true });
    const paths: string[] = [];
    for (const thumbnail of thumbnails) {
      const url = thumbnail.url;
      if (thumbnail.status !== "succeeded" || !url) continue;
      // Image URLs are signed and may be on another host: no API key.
      const absolute = new URL(url, `${this.baseUrl}/`).toString();
      const bytes = await this.retrying(async (signal) => {
        const response = await this.fetch(absolute, { signal });
        if (!response.ok) throw await errorFromResponse(response);
        return { data: new Uint8Array(await response.arrayBuffer()), response };
      });
      const path = join(dir, `${thumbnail.id}.${EXTENSIONS[thumbnail.format] ?? "png"}`);
      await writeFile(path, bytes);
      paths.push(path);
    }
    return paths;
  }

  /** The organisation's webhook signing secret (`whsec_…`), made on first use. */
  async webhookSecret(): Promise<string> {
    const body = await this.retrying((signal) => this.api.GET("/api/v1/webhooks/secret", { signal }));
    return body.secret;
  }

  /** See the module function verifyWebhook. */
  static verifyWebhook(secret: string, headers: WebhookHeaders, body: string | Uint8Array): WebhookEvent {
    return verifyWebhook(secret, headers, body);
  }

  private async follow(
    id: string,
    deadline: number,
    update: (generation: Generation) => void,
  ): Promise<Generation | undefined> {
    const controller = new AbortController();
    const stop = setTimeout(() => controller.abort(), Math.max(0, deadline - Date.now()));
    let idle = setTimeout(() => controller.abort(), Math.max(this.timeoutMs, STREAM_IDLE_MS));
    try {
      const { data: stream } = await this.api.GET("/api/v1/generations/{id}/events", {
        params: { path: { id } },
        headers: { Accept: "text/event-stream" },
        parseAs: "stream",
        signal: controller.signal,
      });
      if (!stream) return undefined;
      const events: EventSourceMessage[] = [];
      const parser = createParser({ onEvent: (event) => events.push(event) });
      const decoder = new TextDecoder();
      const reader = stream.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return undefined;
          clearTimeout(idle);
          idle = setTimeout(() => controller.abort(), Math.max(this.timeoutMs, STREAM_IDLE_MS));
          parser.feed(decoder.decode(value, { stream: true }));
          for (const event of events.splice(0)) {
            if (event.event !== "generation" && event.event !== "done") continue;
            const generation = JSON.parse(event.data) as Generation;
            update(generation);
            if (TERMINAL.has(generation.status)) return generation;
          }
        }
      } finally {
        await reader.cancel().catch(() => {});
      }
    } finally {
      clearTimeout(stop);
      clearTimeout(idle);
      controller.abort();
    }
  }

  private async retrying<T>(call: Call<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let delay: number;
      try {
        const { data } = await call(AbortSignal.timeout(this.timeoutMs));
        return data as T;
      } catch (error) {
        if (error instanceof ThumbforgeError) {
          const retryable =
            error instanceof RateLimited ||
            (error instanceof ServerError && [502, 503, 504].includes(error.status ?? 0)) ||
            (error instanceof Conflict && error.code === "idempotency_key_in_progress");
          delay = error.retryAfterMs ?? this.backoff(attempt);
          if (!retryable || attempt > this.maxRetries || delay > this.maxRetryWaitMs) {
            error.attempts = attempt;
            throw error;
          }
        } else if (isTimeout(error)) {
          if (attempt > this.maxRetries) {
            throw new RequestTimeout(`no answer within ${this.timeoutMs} ms from ${this.baseUrl} (${attempt} attempts)`, {
              code: "timeout",
              attempts: attempt,
              cause: error,
            });
          }
          delay = this.backoff(attempt);
        } else if (isNetworkError(error)) {
          if (attempt > this.maxRetries) {
            const cause = error.cause as { code?: string; message?: string } | undefined;
            const reason = cause?.code ?? cause?.message ?? error.message;
            throw new ConnectionError(`cannot reach ${this.baseUrl}: ${reason} (${attempt} attempts)`, {
              code: "connection_error",
              attempts: attempt,
              cause: error,
            });
          }
          delay = this.backoff(attempt);
        } else {
          throw error;
        }
      }
      await sleep(delay);
    }
  }

  private backoff(attempt: number): number {
    return Math.min(this.backoffMs * 2 ** (attempt - 1), 8_000) * (0.8 + Math.random() * 0.4);
  }
}

/** Request headers as Node's http module, fetch's Headers or a plain object give them. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

/** Checks a webhook delivery with the `standardwebhooks` package and returns
 * its parsed body (`{type, timestamp, data}`). `secret` is the
 * organisation's `whsec_…` (`webhookSecret()`), `body` the raw body exactly
 * as received. Throws WebhookVerificationError for a forged, altered,
 * unsigned or stale (over 5 minutes) delivery. */
export function verifyWebhook(secret: string, headers: WebhookHeaders, body: string | Uint8Array): WebhookEvent {
  const plain: Record<string, string> = {};
  if (headers instanceof Headers) {
    headers.forEach((value, name) => {
      plain[name] = value;
    });
  } else {
    for (const [name, value] of Object.entries(headers)) {
      if (value !== undefined) plain[name] = Array.isArray(value) ? value.join(", ") : value;
    }
  }
  try {
    return new Webhook(secret).verify(body, plain) as WebhookEvent;
  } catch (error) {
    if (error instanceof StandardWebhooksError) {
      throw new WebhookVerificationError(error.message, { code: "invalid_webhook", cause: error });
    }
    throw error;
  }
}

const problemsAsErrors: Middleware = {
  async onResponse({ response }) {
    if (!response.ok) throw await errorFromResponse(response);
    return undefined;
  },
};

/** fetch() rejects with a TypeError when the network fails (undici: "fetch
 * failed", with the socket's error as its cause). */
function isNetworkError(error: unknown): error is TypeError {
  return error instanceof TypeError && (error.cause !== undefined || /fetch|network/i.test(error.message));
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

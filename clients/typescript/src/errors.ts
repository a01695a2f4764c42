// Typed errors. Every error the client throws is a ThumbforgeError.
//
// An answer the server refused carries the problem's `code` (stable,
// machine-readable: docs/api.md, "Error codes"), its HTTP `status` and its
// `detail` (for people; it may change). Errors on this side of the
// connection have a code of their own and no status: `connection_error`,
// `timeout`, `wait_timeout`, `invalid_webhook`.

import type { Generation } from "./types.js";

export interface ThumbforgeErrorOptions {
  code: string;
  status?: number | undefined;
  problem?: Record<string, unknown> | undefined;
  retryAfterMs?: number | undefined;
  attempts?: number | undefined;
  cause?: unknown;
}

/** Base class: `code`, `status` (HTTP, or undefined for errors on this side),
 * `detail`, the whole `problem` when the server sent one, `retryAfterMs`
 * when it said when to retry, and `attempts`: requests made before giving up. */
export class ThumbforgeError extends Error {
  readonly code: string;
  readonly status: number | undefined;
  readonly detail: string;
  readonly problem: Record<string, unknown> | undefined;
  readonly retryAfterMs: number | undefined;
  attempts: number;

  constructor(detail: string, options: ThumbforgeErrorOptions) {
    const { code, status } = options;
    super(status === undefined ? `${detail} (${code})` : `${status} ${code}: ${detail}`, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.detail = detail;
    this.problem = options.problem;
    this.retryAfterMs = options.retryAfterMs;
    this.attempts = options.attempts ?? 1;
  }
}

/** 401: no key, or one the server does not know (`missing_api_key`, `invalid_api_key`). */
export class AuthenticationError extends ThumbforgeError {}
/** 403: a missing scope, a model the plan lacks, a bad image-URL signature. */
export class PermissionDenied extends ThumbforgeError {}
/** 404: no such generation (another organisation's looks the same). */
export class NotFound extends ThumbforgeError {}
/** 402: `insufficient_credits` or `storage_quota_exceeded`. */
export class PaymentRequired extends ThumbforgeError {}
/** 409: for example `idempotency_key_in_progress`. */
export class Conflict extends ThumbforgeError {}
/** 400, 413, 415 or 422: the request itself is wrong (`invalid_count`, …). */
export class ValidationError extends ThumbforgeError {}
/** 429: `rate_limited` or `queue_full`; `retryAfterMs` says when. */
export class RateLimited extends ThumbforgeError {}
/** 5xx. */
export class ServerError extends ThumbforgeError {}
/** 503: up but unable to serve now (`database_unavailable`, `queue_unavailable`). */
export class ServiceUnavailable extends ServerError {}
/** The server could not be reached (refused, reset, DNS) after the retries. */
export class ConnectionError extends ThumbforgeError {}
/** A request took longer than `timeoutMs`. Code `timeout`. */
export class RequestTimeout extends ConnectionError {}

/** `wait()` gave up; `generation` is the last state seen (it keeps running). */
export class WaitTimeout extends ThumbforgeError {
  readonly generation: Generation | undefined;
  constructor(detail: string, generation: Generation | undefined) {
    super(detail, { code: "wait_timeout" });
    this.generation = generation;
  }
}

/** A webhook delivery that does not verify. Code `invalid_webhook`. */
export class WebhookVerificationError extends ThumbforgeError {}

const BY_STATUS: Record<number, typeof ThumbforgeError> = {
  400: ValidationError,
  401: AuthenticationError,
  402: PaymentRequired,
  403: PermissionDenied,
  404: NotFound,
  409: Conflict,
  413: ValidationError,
  415: ValidationError,
  422: ValidationError,
  429: RateLimited,
  503: ServiceUnavailable,
};

/** `Retry-After` in milliseconds: delta-seconds or an HTTP date. */
export function retryAfterMs(value: string | null): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const when = Date.parse(trimmed);
  return Number.isNaN(when) ? undefined : Math.max(0, when - Date.now());
}

/** The typed error for a refused request. The body should be an RFC 9457
 * problem, but a proxy's HTML page still gives a useful error. */
export async function errorFromResponse(response: Response): Promise<ThumbforgeError> {
  const text = await response.text().catch(() => "");
  let problem: Record<string, unknown> | undefined;
  try {
    const body: unknown = JSON.parse(text);
    if (body !== null && typeof body === "object" && !Array.isArray(body)) {
      problem = body as Record<string, unknown>;
    }
  } catch {
    // not JSON
  }
  const status = response.status;
  const code = typeof problem?.code === "string" ? problem.code : `http_${status}`;
  const detail = typeof problem?.detail === "string" ? problem.detail : response.statusText || `HTTP ${status}`;
  const Kind = BY_STATUS[status] ?? (status >= 500 ? ServerError : ThumbforgeError);
  return new Kind(detail, {
    code,
    status,
    problem,
    retryAfterMs: retryAfterMs(response.headers.get("retry-after")),
  });
}

// thumbforge's TypeScript client: generate YouTube thumbnails on a thumbforge
// server, wait for them, download them, cancel them, verify webhooks.

export {
  type GenerateOptions,
  TERMINAL,
  Thumbforge,
  type ThumbforgeOptions,
  VERSION,
  verifyWebhook,
  type WaitOptions,
  type WebhookHeaders,
} from "./client.js";
export {
  AuthenticationError,
  Conflict,
  ConnectionError,
  NotFound,
  PaymentRequired,
  PermissionDenied,
  RateLimited,
  RequestTimeout,
  ServerError,
  ServiceUnavailable,
  ThumbforgeError,
  type ThumbforgeErrorOptions,
  ValidationError,
  WaitTimeout,
  WebhookVerificationError,
} from "./errors.js";
export type { components, operations, paths, webhooks } from "./generated/schema.js";
export type * from "./types.js";

// Friendlier names for the generated schema types (src/generated/schema.ts,
// made by openapi-typescript from docs/openapi.json).

import type { components } from "./generated/schema.js";

type Schemas = components["schemas"];

export type Generation = Schemas["GenerationBody"];
export type Thumbnail = Schemas["ThumbnailBody"];
export type GenerateBody = Schemas["GenerateBody"];
export type GenerateResponse = Schemas["GenerateResponse"];
export type GenerationStatus = Schemas["GenerationStatus"];
export type ThumbnailStatus = Schemas["ThumbnailStatus"];
export type AspectRatio = Schemas["AspectRatio"];
export type Format = Schemas["Format"];
export type WebhookEvents = Schemas["WebhookEvents"];
export type Problem = Schemas["Problem"];
export type ErrorCode = Schemas["ErrorCode"];
/** The body of a `generation.completed` delivery. */
export type GenerationCompleted = Schemas["GenerationCompleted"];
/** The body of a `thumbnail.succeeded`, `.failed` or `.canceled` delivery. */
export type ThumbnailEnded = Schemas["ThumbnailEnded"];
export type WebhookEvent = GenerationCompleted | ThumbnailEnded;

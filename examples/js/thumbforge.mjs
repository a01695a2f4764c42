// thumbforge's polling client, as FatThumb's docs write it ("Get Generation
// Status API", `waitForGeneration`), in plain JavaScript for Node 18+ (the
// docs' TypeScript annotations removed), with only the base URL made
// configurable (THUMBFORGE_URL) and the key passed in.

export const BASE_URL = (process.env.THUMBFORGE_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");

/** POST /api/v1/generate; resolves to {generationId, thumbnailIds, status}. */
export async function generate(body, apiKey) {
  const response = await fetch(`${BASE_URL}/api/v1/generate`, {
    method: "POST",
    headers: { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    const error = new Error(`Generate failed: ${response.status} ${problem.detail ?? ""}`);
    error.problem = problem;
    throw error;
  }
  return response.json();
}

export async function waitForGeneration(generationId, apiKey, intervalMs = 3000) {
  while (true) {
    const response = await fetch(
      `${BASE_URL}/api/v1/generations/${generationId}`,
      { headers: { Authorization: `Bearer ${apiKey}` } },
    );

    if (!response.ok) {
      throw new Error(`Poll failed: ${response.status}`);
    }

    const data = await response.json();
    if (["succeeded", "failed", "partial"].includes(data.status)) {
      return data;
    }

    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

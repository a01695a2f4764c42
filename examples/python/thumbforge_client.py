"""thumbforge's polling client, exactly as FatThumb's docs write it
(https://fatthumb.klaas.pro, "Get Generation Status API"), with only the
base URL made configurable (THUMBFORGE_URL) and the key read from
THUMBFORGE_API_KEY (FatThumb's FATTHUMB_API_KEY)."""

import os
import time

import requests

BASE_URL = os.environ.get("THUMBFORGE_URL", "http://127.0.0.1:8080").rstrip("/")


def generate(prompt: str, count: int = 1, **extra) -> dict:
    """POST /api/v1/generate; returns {generationId, thumbnailIds, status}."""
    api_key = os.environ["THUMBFORGE_API_KEY"]
    resp = requests.post(
        f"{BASE_URL}/api/v1/generate",
        headers={"Authorization": f"Bearer {api_key}"},
        json={"prompt": prompt, "count": count, **extra},
    )
    resp.raise_for_status()
    return resp.json()


def wait_for_generation(generation_id: str, interval_s: int = 3):
    api_key = os.environ["THUMBFORGE_API_KEY"]
    while True:
        resp = requests.get(
            f"{BASE_URL}/api/v1/generations/{generation_id}",
            headers={"Authorization": f"Bearer {api_key}"},
        )
        resp.raise_for_status()
        data = resp.json()
        if data["status"] in ("succeeded", "failed", "partial"):
            return data
        time.sleep(interval_s)

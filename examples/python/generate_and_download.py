"""Generate thumbnails, wait for them, download the PNGs.

    THUMBFORGE_URL=http://127.0.0.1:8080 THUMBFORGE_API_KEY=tfk_… \
        python generate_and_download.py "I built a Rust web service in 24 hours" --count 2 --out thumbs

Prints one downloaded path per line. Exits 0 when every thumbnail
succeeded, 1 when the generation failed or was partial (after downloading
what succeeded), 2 on a bad request (the server's problem on stderr).
"""

import argparse
import os
import sys

import requests

from thumbforge_client import generate, wait_for_generation


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prompt")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--model")
    parser.add_argument("--out", default=".")
    parser.add_argument("--interval", type=float, default=3)
    parser.add_argument("--webhook-url", help="also POST the result here (Standard Webhooks)")
    args = parser.parse_args()

    extra = {}
    if args.model:
        extra["model"] = args.model
    if args.webhook_url:
        extra["webhookUrl"] = args.webhook_url
    try:
        accepted = generate(args.prompt, args.count, **extra)
    except requests.HTTPError as e:
        problem = e.response.json() if e.response is not None else {}
        print(f"error: {problem.get('detail', e)} ({problem.get('code')})", file=sys.stderr)
        return 2
    generation_id = accepted["generationId"]
    print(f"generation {generation_id} accepted; polling", file=sys.stderr)

    data = wait_for_generation(generation_id, args.interval)
    os.makedirs(args.out, exist_ok=True)
    for thumbnail in data["thumbnails"]:
        if thumbnail["status"] != "succeeded" or not thumbnail["url"]:
            print(f"{thumbnail['id']}: {thumbnail['status']}: {thumbnail['error']}", file=sys.stderr)
            continue
        png = requests.get(thumbnail["url"])
        png.raise_for_status()
        path = os.path.join(args.out, f"{thumbnail['id']}.png")
        with open(path, "wb") as f:
            f.write(png.content)
        print(path)
    print(f"generation {generation_id}: {data['status']}", file=sys.stderr)
    return 0 if data["status"] == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())

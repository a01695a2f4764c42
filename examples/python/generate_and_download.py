"""Generate thumbnails, wait for them, download the PNGs.

    THUMBFORGE_URL=http://127.0.0.1:8080 THUMBFORGE_API_KEY=tfk_… \
        python generate_and_download.py "I built a Rust web service in 24 hours" --count 2 --out thumbs

Prints one downloaded path per line. Exits 0 when every thumbnail
succeeded, 1 when the generation failed, was partial or was canceled (after
downloading what succeeded), 2 when the request was refused or the server
could not be reached (the error and its code on stderr).

Uses the thumbforge package (pip install ./clients/python).
"""

import argparse
import os
import sys

from thumbforge import GenerationStatus, Thumbforge, ThumbforgeError, ThumbnailStatus


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prompt")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--model")
    parser.add_argument("--title")
    parser.add_argument("--out", default=".")
    parser.add_argument(
        "--interval", type=float, default=3, help="seconds between polls if the event stream is unavailable"
    )
    parser.add_argument("--webhook-url", help="also POST the result here (Standard Webhooks)")
    args = parser.parse_args()

    base_url = os.environ.get("THUMBFORGE_URL", "http://127.0.0.1:8080")
    with Thumbforge(base_url, os.environ["THUMBFORGE_API_KEY"], poll_interval=args.interval) as tf:
        try:
            accepted = tf.generate(
                args.prompt, count=args.count, model=args.model, title=args.title, webhook_url=args.webhook_url
            )
        except ThumbforgeError as e:
            print(f"error: {e.detail} ({e.code})", file=sys.stderr)
            return 2
        print(f"generation {accepted.generation_id} accepted; waiting", file=sys.stderr)

        generation = tf.wait(accepted.generation_id)
        for thumbnail in generation.thumbnails:
            if thumbnail.status != ThumbnailStatus.SUCCEEDED:
                print(f"{thumbnail.id}: {thumbnail.status}: {thumbnail.error}", file=sys.stderr)
        for path in tf.download(generation, args.out):
            print(path)
    print(f"generation {generation.id}: {generation.status}", file=sys.stderr)
    return 0 if generation.status == GenerationStatus.SUCCEEDED else 1


if __name__ == "__main__":
    sys.exit(main())

"""The package against a real `thumbforge serve` (scripts/clients.sh) and, for
what a healthy server does not do on cue, against local stubs."""

from __future__ import annotations

import json
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Reply, Seen, Stub, closed_port, forward, problem

import thumbforge
from thumbforge import (
    AuthenticationError,
    GenerationStatus,
    NotFound,
    RateLimited,
    RequestTimeout,
    ServiceUnavailable,
    Thumbforge,
    ValidationError,
    WaitTimeout,
    WebhookVerificationError,
    verify_webhook,
)

StubFactory = Callable[[Callable[[Seen], Reply]], Stub]


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


# -- against the real server --------------------------------------------------


def test_generate_wait_download_gives_1280x720_pngs(tf: Thumbforge, tmp_path: Path) -> None:
    accepted = tf.generate("The Python client made this", count=2, title="Python client")
    assert accepted.generation_id.startswith("gen_")
    assert len(accepted.thumbnail_ids) == 2

    seen: list[GenerationStatus] = []
    generation = tf.wait(accepted.generation_id, timeout=60, on_update=lambda g: seen.append(g.status))
    assert generation.status == GenerationStatus.SUCCEEDED
    assert seen[-1] == GenerationStatus.SUCCEEDED
    assert generation.title == "Python client"

    paths = tf.download(generation, tmp_path / "thumbs")
    assert sorted(p.name for p in paths) == sorted(f"{t}.png" for t in accepted.thumbnail_ids)
    for path in paths:
        assert png_size(path) == (1280, 720)
    # One thumbnail on its own, and a generation by id.
    assert tf.download(generation.thumbnails[0], tmp_path / "one") == [tmp_path / "one" / paths[0].name]
    assert len(tf.download(accepted.generation_id, tmp_path / "by-id")) == 2


def test_cancel_ends_a_waiting_wait_with_canceled_promptly(tf: Thumbforge) -> None:
    accepted = tf.generate("[sleep:30000] a slow one", model="test")
    outcome: list[object] = []
    waiter = threading.Thread(target=lambda: outcome.append(tf.wait(accepted.generation_id, timeout=30)))
    started = time.monotonic()
    waiter.start()
    time.sleep(1)
    assert tf.cancel(accepted.generation_id).status == GenerationStatus.CANCELED
    waiter.join(timeout=10)
    assert not waiter.is_alive(), "wait() did not end after the cancel"
    generation = outcome[0]
    assert isinstance(generation, thumbforge.Generation)
    assert generation.status == GenerationStatus.CANCELED
    assert all(t.status == thumbforge.ThumbnailStatus.CANCELED for t in generation.thumbnails)
    assert time.monotonic() - started < 10, "the model sleeps 30 s; wait() must not"
    # Canceling again answers the ended generation unchanged.
    assert tf.cancel(accepted.generation_id).status == GenerationStatus.CANCELED


def test_wait_times_out_with_the_last_state(tf: Thumbforge) -> None:
    accepted = tf.generate("[sleep:30000] too slow to wait for", model="test")
    started = time.monotonic()
    with pytest.raises(WaitTimeout) as raised:
        tf.wait(accepted.generation_id, timeout=1.5)
    assert 1.4 < time.monotonic() - started < 4
    assert raised.value.code == "wait_timeout"
    assert raised.value.generation is not None
    assert raised.value.generation.status == GenerationStatus.PROCESSING
    tf.cancel(accepted.generation_id)


def test_a_wrong_key_is_an_authentication_error(server: tuple[str, str]) -> None:
    with Thumbforge(server[0], "tfk_" + "x" * 40) as wrong:
        with pytest.raises(AuthenticationError) as raised:
            wrong.generate("never made")
    assert raised.value.status == 401
    assert raised.value.code == "invalid_api_key"
    assert raised.value.attempts == 1, "a 401 is not retried"


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"count": 9}, "invalid_count"),
        ({"aspect_ratio": "5:4"}, "invalid_aspect_ratio"),
        ({"model": "no-such-model"}, "unknown_model"),
    ],
)
def test_a_bad_request_is_a_validation_error_with_its_code(
    tf: Thumbforge, arguments: dict[str, object], code: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        tf.generate("a thumbnail", **arguments)  # type: ignore[arg-type]
    assert raised.value.status == 422
    assert raised.value.code == code
    assert raised.value.detail


def test_an_unknown_generation_is_not_found(tf: Thumbforge) -> None:
    with pytest.raises(NotFound) as raised:
        tf.get("gen_00000000000000000000000000")
    assert (raised.value.status, raised.value.code) == (404, "not_found")


def test_wait_falls_back_to_polling_when_the_event_stream_fails(server: tuple[str, str], stub: StubFactory) -> None:
    # A proxy in front of the real server that refuses the event stream, as
    # an older server or a buffering proxy would.
    def handler(request: Seen) -> Reply:
        if request.path.endswith("/events"):
            return problem(404, "not_found", "no such route")
        return forward(server[0], request)

    proxy = stub(handler)
    with Thumbforge(proxy.url, server[1], timeout=10, poll_interval=0.5) as tf:
        accepted = tf.generate("[sleep:1500] polled", model="test")
        generation = tf.wait(accepted.generation_id, timeout=30)
    assert generation.status == GenerationStatus.SUCCEEDED
    paths = [r.path for r in proxy.seen if r.method == "GET"]
    assert f"/api/v1/generations/{accepted.generation_id}/events" in paths
    polls = [p for p in paths if p == f"/api/v1/generations/{accepted.generation_id}"]
    assert len(polls) >= 2, f"expected polling after the stream failed, saw {paths}"


def test_webhook_from_the_server_verifies_and_a_forgery_does_not(tf: Thumbforge, stub: StubFactory) -> None:
    receiver = stub(lambda request: Reply(204))
    secret = tf.webhook_secret()
    assert secret.startswith("whsec_")

    accepted = tf.generate("webhook delivery", webhook_url=f"{receiver.url}/hooks/thumbforge")
    deadline = time.monotonic() + 30
    while not receiver.seen and time.monotonic() < deadline:
        time.sleep(0.1)
    assert receiver.seen, "no webhook delivery within 30 s"
    delivery = receiver.seen[0]

    event = verify_webhook(secret, delivery.headers, delivery.body)
    assert event["type"] == "generation.completed"
    assert event["data"]["id"] == accepted.generation_id
    assert event["data"]["status"] == "succeeded"
    assert Thumbforge.verify_webhook(secret, delivery.headers, delivery.body) == event

    forged_body = delivery.body.replace(b"succeeded", b"failed")
    for headers, body, why in [
        (delivery.headers, forged_body, "an altered body"),
        ({**delivery.headers, "webhook-signature": "v1,AAAA"}, delivery.body, "a made-up signature"),
        (
            {k: v for k, v in delivery.headers.items() if k.lower() != "webhook-signature"},
            delivery.body,
            "no signature",
        ),
    ]:
        with pytest.raises(WebhookVerificationError) as raised:
            verify_webhook(secret, headers, body)
        assert raised.value.code == "invalid_webhook", why
    other_secret = "whsec_" + "A" * 43
    with pytest.raises(WebhookVerificationError):
        verify_webhook(other_secret, delivery.headers, delivery.body)


# -- against stubs -------------------------------------------------------------


def test_a_server_that_is_down_is_a_connection_error_after_the_retries() -> None:
    started = time.monotonic()
    with Thumbforge(f"http://127.0.0.1:{closed_port()}", "tfk_x", max_retries=2, backoff=0.05) as tf:
        with pytest.raises(thumbforge.ConnectionError) as raised:
            tf.get("gen_x")
    assert raised.value.code == "connection_error"
    assert raised.value.status is None
    assert raised.value.attempts == 3
    assert time.monotonic() - started < 2


def test_a_server_that_hangs_is_a_timeout(stub: StubFactory) -> None:
    def slow(request: Seen) -> Reply:
        time.sleep(2)
        return Reply(200, b"{}")

    hanging = stub(slow)
    started = time.monotonic()
    with Thumbforge(hanging.url, "tfk_x", timeout=0.3, max_retries=1, backoff=0.05) as tf:
        with pytest.raises(RequestTimeout) as raised:
            tf.get("gen_x")
    assert raised.value.code == "timeout"
    assert raised.value.attempts == 2
    assert time.monotonic() - started < 1.8


def test_429_and_503_are_retried_after_retry_after_with_one_idempotency_key(stub: StubFactory) -> None:
    answers = [
        problem(429, "rate_limited", "slow down", **{"Retry-After": "1"}),
        problem(503, "database_unavailable", "the database is away", **{"Retry-After": "1"}),
        Reply(
            202,
            json.dumps({"generationId": "gen_stub", "thumbnailIds": ["thm_stub"], "status": "processing"}).encode(),
            {"Content-Type": "application/json"},
        ),
    ]
    busy = stub(lambda request: answers.pop(0))
    with Thumbforge(busy.url, "tfk_x", max_retries=3, backoff=0.05) as tf:
        accepted = tf.generate("retried")
    assert accepted.generation_id == "gen_stub"
    assert len(busy.seen) == 3
    keys = {r.headers.get("Idempotency-Key") for r in busy.seen}
    assert len(keys) == 1 and None not in keys, f"one Idempotency-Key for every try, got {keys}"
    gaps = [b.at - a.at for a, b in zip(busy.seen, busy.seen[1:], strict=False)]
    assert all(gap >= 0.95 for gap in gaps), f"Retry-After: 1 not honoured: {gaps}"
    assert all(gap < 3 for gap in gaps)
    assert json.loads(busy.seen[0].body) == {"prompt": "retried", "count": 1}


def test_429_after_the_retries_is_rate_limited_with_retry_after(stub: StubFactory) -> None:
    limited = stub(lambda request: problem(429, "rate_limited", "slow down", **{"Retry-After": "1"}))
    with Thumbforge(limited.url, "tfk_x", max_retries=1) as tf:
        with pytest.raises(RateLimited) as raised:
            tf.get("gen_x")
    assert (raised.value.status, raised.value.code, raised.value.retry_after) == (429, "rate_limited", 1.0)
    assert raised.value.attempts == 2
    assert len(limited.seen) == 2


def test_a_retry_after_beyond_max_retry_wait_is_not_waited_for(stub: StubFactory) -> None:
    away = stub(lambda request: problem(503, "queue_unavailable", "back in an hour", **{"Retry-After": "3600"}))
    started = time.monotonic()
    with Thumbforge(away.url, "tfk_x", max_retries=3, max_retry_wait=5) as tf:
        with pytest.raises(ServiceUnavailable) as raised:
            tf.get("gen_x")
    assert raised.value.code == "queue_unavailable"
    assert raised.value.retry_after == 3600
    assert len(away.seen) == 1
    assert time.monotonic() - started < 1

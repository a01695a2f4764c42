"""The hand-written layer over the generated client (thumbforge._api).

The generated code knows every operation and model of docs/openapi.json;
this module adds what a caller of a thumbnail service needs on top: retries
that honour ``Retry-After``, one Idempotency-Key per ``generate`` call so a
retried generate never makes two generations, waiting over the event stream
with polling as the fallback, downloads, typed errors and webhook checks.

Refusals become typed errors in one place, an httpx response hook
(:func:`thumbforge.errors.raise_for_problem`), so the generated functions only
ever parse successful answers, and the same holds for anyone who calls the
generated API through :attr:`Thumbforge.api`.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urljoin

import httpx
import httpx_sse
from standardwebhooks.webhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError as _StandardWebhooksError

from ._api import AuthenticatedClient
from ._api.api.generations import cancel_generation, create_generation, get_generation
from ._api.api.webhooks import get_webhook_secret
from ._api.models import (
    AspectRatio,
    Format,
    GenerateBody,
    GenerateResponse,
    GenerationBody,
    GenerationStatus,
    SecretBody,
    ThumbnailBody,
    ThumbnailStatus,
    WebhookEvents,
)
from ._api.types import UNSET, Unset
from .errors import (
    Conflict,
    ConnectionError,
    RateLimited,
    RequestTimeout,
    ServerError,
    ThumbforgeError,
    WaitTimeout,
    WebhookVerificationError,
    raise_for_problem,
)

__version__ = "0.1.0"

TERMINAL = frozenset(
    {GenerationStatus.SUCCEEDED, GenerationStatus.FAILED, GenerationStatus.PARTIAL, GenerationStatus.CANCELED}
)
"""A generation in one of these statuses never changes again."""

# The event stream sends a comment every 15 s, so a read that waits longer
# than this has lost the stream.
_STREAM_IDLE_SECS = 20.0

T = TypeVar("T")


class Thumbforge:
    """A thumbforge server, as one organisation's API key sees it.

    ``timeout`` bounds every request (seconds). Requests that fail for a
    passing reason (connection refused or reset, a timeout, 429, 502, 503,
    504, an Idempotency-Key still in progress) are retried up to
    ``max_retries`` times, waiting what ``Retry-After`` says, else
    ``backoff`` seconds doubling each time; a ``Retry-After`` longer than
    ``max_retry_wait`` is not waited for (the error says when). Every request
    this class makes is safe to repeat: reads, cancel, and generate, which
    sends the same Idempotency-Key on each try.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        max_retry_wait: float = 60.0,
        poll_interval: float = 3.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_retry_wait = max_retry_wait
        self.poll_interval = poll_interval
        hooks = {"response": [raise_for_problem]}
        user_agent = {"User-Agent": f"thumbforge-python/{__version__}"}
        self._api = AuthenticatedClient(
            base_url=self.base_url,
            token=api_key,
            timeout=httpx.Timeout(timeout),
            headers=user_agent,
            httpx_args={"event_hooks": hooks},
        )
        # Image URLs are signed and may live on another host (api.public_url):
        # they are fetched without the API key.
        self._files = httpx.Client(timeout=httpx.Timeout(timeout), headers=user_agent, event_hooks=hooks)

    @property
    def api(self) -> AuthenticatedClient:
        """The generated client, for every other operation of the API
        (``thumbforge._api.api.*``); refusals raise the typed errors here too."""
        return self._api

    def close(self) -> None:
        self._api.get_httpx_client().close()
        self._files.close()

    def __enter__(self) -> Thumbforge:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the use cases ------------------------------------------------------

    def generate(
        self,
        prompt: str,
        count: int = 1,
        model: str | None = None,
        aspect_ratio: AspectRatio | str | None = None,
        title: str | None = None,
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
        *,
        webhook_events: WebhookEvents | str | None = None,
        style_id: str | None = None,
        person_ids: list[str] | None = None,
        inspiration_ids: list[str] | None = None,
        reference_image_url: str | None = None,
        youtube_references: list[str] | None = None,
        provider: str | None = None,
        format: Format | str | None = None,
    ) -> GenerateResponse:
        """``POST /api/v1/generate``: accepted at once; ``wait()`` for the end.

        The server checks every field (a ``count`` of 9 is a
        :class:`ValidationError` with code ``invalid_count``). Without an
        ``idempotency_key`` one is made for this call, so its retries can
        never make a second generation. ``format`` is ``png`` (default),
        ``jpeg`` or ``webp``; every file is at most 2 MB.
        """
        body = GenerateBody(
            prompt=prompt,
            count=count,
            model=_opt(model),
            aspect_ratio=_opt(_enum(AspectRatio, aspect_ratio)),
            title=_opt(title),
            webhook_url=_opt(webhook_url),
            webhook_events=_opt(_enum(WebhookEvents, webhook_events)),
            style_id=_opt(style_id),
            person_ids=_opt(person_ids),
            inspiration_ids=_opt(inspiration_ids),
            reference_image_url=_opt(reference_image_url),
            youtube_references=_opt(youtube_references),
            provider=_opt(provider),
            format_=_opt(_enum(Format, format)),
        )
        key = idempotency_key or f"thumbforge-python-{uuid.uuid4()}"
        response = self._retrying(
            lambda: create_generation.sync_detailed(client=self._api, body=body, idempotency_key=key)
        )
        parsed = response.parsed
        if isinstance(parsed, GenerationBody):  # a 200 (the caller's own Prefer: wait); not sent here
            return GenerateResponse(
                generation_id=parsed.id,
                thumbnail_ids=[t.id for t in parsed.thumbnails],
                status=parsed.status,
            )
        return _expect(parsed, GenerateResponse, response)

    def get(self, generation_id: str) -> GenerationBody:
        """``GET /api/v1/generations/{id}``: the generation as it stands."""
        response = self._retrying(lambda: get_generation.sync_detailed(generation_id, client=self._api))
        return _expect(response.parsed, GenerationBody, response)

    def cancel(self, generation_id: str) -> GenerationBody:
        """``POST /api/v1/generations/{id}/cancel``: every thumbnail not yet
        finished becomes ``canceled``; a generation that already ended is
        answered unchanged."""
        response = self._retrying(lambda: cancel_generation.sync_detailed(generation_id, client=self._api))
        return _expect(response.parsed, GenerationBody, response)

    def wait(
        self,
        generation_id: str,
        timeout: float = 600.0,
        *,
        on_update: Callable[[GenerationBody], None] | None = None,
    ) -> GenerationBody:
        """Blocks until the generation ends (``succeeded``, ``partial``,
        ``failed`` or ``canceled``) and returns it.

        Follows ``GET /api/v1/generations/{id}/events``; if the stream cannot
        be had or breaks off, polls every ``poll_interval`` seconds instead.
        Raises :class:`WaitTimeout` after ``timeout`` seconds (the generation
        keeps running). ``on_update`` sees each state on the way.
        """
        deadline = time.monotonic() + timeout
        seen: list[GenerationBody] = []

        def update(generation: GenerationBody) -> None:
            if on_update and (not seen or generation.to_dict() != seen[-1].to_dict()):
                on_update(generation)
            seen[:] = [generation]

        try:
            ended = self._follow(generation_id, deadline, update)
            if ended is not None:
                return ended
        except (ThumbforgeError, httpx.HTTPError, httpx_sse.SSEError, ValueError, KeyError):
            # No stream (an older server, a proxy that buffers or refuses
            # it, a broken connection): polling says the same, more slowly,
            # and raises the typed error if the generation itself is the
            # problem (a wrong key, another org's id).
            pass
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                last = seen[-1] if seen else None
                status = last.status.value if last else "unknown"
                raise WaitTimeout(f"generation {generation_id} still {status} after {timeout:g} s", generation=last)
            generation = self.get(generation_id)
            update(generation)
            if generation.status in TERMINAL:
                return generation
            time.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))

    def download(self, item: GenerationBody | ThumbnailBody | str, dir: str | Path = ".") -> list[Path]:
        """Writes each succeeded thumbnail of a generation (or one thumbnail,
        or the generation with this id) to ``dir/{thumbnail id}.{png,jpg,webp}`` and
        returns the paths. Thumbnails that did not succeed are skipped."""
        if isinstance(item, str):
            item = self.get(item)
        thumbnails = item.thumbnails if isinstance(item, GenerationBody) else [item]
        out = Path(dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for thumbnail in thumbnails:
            url = thumbnail.url
            if thumbnail.status != ThumbnailStatus.SUCCEEDED or not isinstance(url, str):
                continue
            absolute = urljoin(self.base_url + "/", url)
            image = self._retrying(lambda: self._files.get(absolute))
            path = out / f"{thumbnail.id}.{_EXTENSIONS.get(thumbnail.format_, 'png')}"
            path.write_bytes(image.content)
            paths.append(path)
        return paths

    def webhook_secret(self) -> str:
        """The organisation's webhook signing secret (``whsec_…``), made on
        first use: what :func:`verify_webhook` needs."""
        response = self._retrying(lambda: get_webhook_secret.sync_detailed(client=self._api))
        return _expect(response.parsed, SecretBody, response).secret

    @staticmethod
    def verify_webhook(secret: str, headers: Mapping[str, str], body: bytes | str) -> dict[str, Any]:
        """:func:`thumbforge.verify_webhook`."""
        return verify_webhook(secret, headers, body)

    # -- plumbing -----------------------------------------------------------

    def _follow(
        self, generation_id: str, deadline: float, update: Callable[[GenerationBody], None]
    ) -> GenerationBody | None:
        """Follows the event stream to the generation's end and returns it,
        or None if the stream closed first or the deadline came."""
        http = self._api.get_httpx_client()
        url = f"/api/v1/generations/{quote(generation_id, safe='')}/events"
        timeout = httpx.Timeout(self.timeout, read=max(self.timeout, _STREAM_IDLE_SECS))
        with httpx_sse.connect_sse(http, "GET", url, timeout=timeout) as source:
            # The keep-alive comments keep a quiet stream's reads short of any
            # read timeout, so the deadline is kept by shutting the socket
            # (httpcore's documented network_stream extension).
            stream = source.response.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _shut, (sock,))
            watchdog.daemon = True
            watchdog.start()
            try:
                for event in source.iter_sse():
                    if event.event not in ("generation", "done"):
                        continue
                    generation = GenerationBody.from_dict(json.loads(event.data))
                    update(generation)
                    if generation.status in TERMINAL:
                        return generation
            finally:
                watchdog.cancel()
        return None

    def _retrying(self, call: Callable[[], T]) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                return call()
            except (RateLimited, ServerError, Conflict) as e:
                retryable = not isinstance(e, Conflict) or e.code == "idempotency_key_in_progress"
                if isinstance(e, ServerError) and e.status not in (502, 503, 504):
                    retryable = False
                delay = e.retry_after if e.retry_after is not None else self._backoff(attempt)
                if not retryable or attempt > self.max_retries or delay > self.max_retry_wait:
                    e.attempts = attempt
                    raise
            except httpx.TimeoutException as e:
                if attempt > self.max_retries:
                    raise RequestTimeout(
                        f"no answer within {self.timeout:g} s from {self.base_url} ({attempt} attempts)",
                        code="timeout",
                        attempts=attempt,
                    ) from e
                delay = self._backoff(attempt)
            except httpx.TransportError as e:
                if attempt > self.max_retries:
                    raise ConnectionError(
                        f"cannot reach {self.base_url}: {e} ({attempt} attempts)",
                        code="connection_error",
                        attempts=attempt,
                    ) from e
                delay = self._backoff(attempt)
            time.sleep(delay)

    def _backoff(self, attempt: int) -> float:
        delay: float = min(self.backoff * 2.0 ** (attempt - 1), 8.0)
        return delay * random.uniform(0.8, 1.2)


def verify_webhook(secret: str, headers: Mapping[str, str], body: bytes | str) -> dict[str, Any]:
    """Checks a webhook delivery with the ``standardwebhooks`` package and
    returns its parsed body (``{"type", "timestamp", "data"}``).

    ``secret`` is the organisation's ``whsec_…`` (:meth:`Thumbforge.webhook_secret`);
    ``headers`` the request's headers (any case); ``body`` the raw body,
    exactly as received. Raises :class:`WebhookVerificationError` for a
    forged, altered, unsigned or stale (over 5 minutes) delivery.
    """
    try:
        event = Webhook(secret).verify(body, dict(headers.items()))
    except _StandardWebhooksError as e:
        raise WebhookVerificationError(str(e), code="invalid_webhook") from e
    if not isinstance(event, dict):
        raise WebhookVerificationError("the body is not a JSON object", code="invalid_webhook")
    return event


def _shut(sock: socket.socket | None) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _opt(value: T | None) -> T | Unset:
    return UNSET if value is None else value


# A thumbnail's file name extension by its format.
_EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}


def _enum(kind: Any, value: Any) -> Any:
    """A known value as the generated enum; anything else as given, for the
    server to refuse with its own code (``invalid_aspect_ratio``, …)."""
    if value is None or isinstance(value, kind):
        return value
    try:
        return kind(value)
    except ValueError:
        return value


def _expect(parsed: Any, kind: type[T], response: Any) -> T:
    if not isinstance(parsed, kind):
        raise ThumbforgeError(
            f"unexpected answer {int(response.status_code)} to a request that expected {kind.__name__}",
            code="unexpected_response",
            status=int(response.status_code),
        )
    return parsed

"""Typed errors. Every error the client raises is a :class:`ThumbforgeError`.

An answer the server refused carries the problem's ``code`` (stable,
machine-readable: docs/api.md, "Error codes"), its HTTP ``status`` and its
``detail`` (for people; it may change). Errors that happen on this side of
the connection have a code of their own and no status: ``connection_error``,
``timeout``, ``wait_timeout``, ``invalid_webhook``.
"""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import httpx


class ThumbforgeError(Exception):
    """Base class: ``code`` (the problem's ``code``), ``status`` (HTTP, or
    None for errors on this side), ``detail``, the whole ``problem`` when
    the server sent one, ``retry_after`` (seconds) when it said when to
    retry, and ``attempts``: how many requests were made before giving up."""

    def __init__(
        self,
        detail: str,
        *,
        code: str,
        status: int | None = None,
        problem: dict[str, Any] | None = None,
        retry_after: float | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(f"{detail} ({code})" if status is None else f"{status} {code}: {detail}")
        self.code = code
        self.status = status
        self.detail = detail
        self.problem = problem
        self.retry_after = retry_after
        self.attempts = attempts


class AuthenticationError(ThumbforgeError):
    """401: no key, or a key the server does not know (``missing_api_key``,
    ``invalid_api_key``)."""


class PermissionDenied(ThumbforgeError):
    """403: the key lacks a scope, the plan lacks a model, or a signed URL
    does not verify (``insufficient_scope``, ``plan_required``, …)."""


class NotFound(ThumbforgeError):
    """404: no such generation (another organisation's looks the same)."""


class PaymentRequired(ThumbforgeError):
    """402: ``insufficient_credits`` or ``storage_quota_exceeded``."""


class Conflict(ThumbforgeError):
    """409: for example ``idempotency_key_in_progress``."""


class ValidationError(ThumbforgeError):
    """400, 413, 415 or 422: the request itself is wrong (``invalid_count``,
    ``invalid_json``, ``unknown_model``, …). Retrying will not help."""


class RateLimited(ThumbforgeError):
    """429: ``rate_limited`` or ``queue_full``; ``retry_after`` says when."""


class ServerError(ThumbforgeError):
    """5xx."""


class ServiceUnavailable(ServerError):
    """503: the server is up but cannot serve now (``database_unavailable``,
    ``queue_unavailable``); ``retry_after`` says when to try again."""


class ConnectionError(ThumbforgeError):  # noqa: A001 - thumbforge.ConnectionError, as documented
    """The server could not be reached (refused, reset, DNS), after the
    configured retries. Code ``connection_error``."""


class RequestTimeout(ConnectionError):
    """A request took longer than the client's ``timeout``. Code ``timeout``."""


class WaitTimeout(ThumbforgeError):
    """``wait()`` gave up before the generation ended; ``generation`` is the
    last state seen (it keeps running on the server). Code ``wait_timeout``."""

    def __init__(self, detail: str, *, generation: Any = None) -> None:
        super().__init__(detail, code="wait_timeout")
        self.generation = generation


class WebhookVerificationError(ThumbforgeError):
    """A webhook delivery whose signature, timestamp or headers do not
    verify. Code ``invalid_webhook``."""


_BY_STATUS: dict[int, type[ThumbforgeError]] = {
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
}


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def from_response(response: httpx.Response) -> ThumbforgeError:
    """The typed error for a refused request; the body should be an RFC 9457
    problem, but a proxy's HTML page still gives a useful error."""
    problem: dict[str, Any] | None = None
    try:
        body = json.loads(response.content)
        if isinstance(body, dict):
            problem = body
    except ValueError:
        pass
    status = response.status_code
    code = str(problem.get("code")) if problem and problem.get("code") else f"http_{status}"
    detail = str(problem.get("detail")) if problem and problem.get("detail") else response.reason_phrase
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else ThumbforgeError)
    return kind(
        detail,
        code=code,
        status=status,
        problem=problem,
        retry_after=retry_after_seconds(response.headers.get("retry-after")),
    )


def raise_for_problem(response: httpx.Response) -> None:
    """httpx response hook: a refusal becomes its typed error before the
    generated code parses anything."""
    if response.status_code >= 400:
        response.read()
        raise from_response(response)

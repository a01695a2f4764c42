"""thumbforge's Python client: generate YouTube thumbnails on a thumbforge
server, wait for them, download them, cancel them, verify webhooks.

    from thumbforge import Thumbforge

    with Thumbforge("http://127.0.0.1:8080", "tfk_…") as tf:
        accepted = tf.generate("I built a Rust web service in 24 hours", count=2)
        generation = tf.wait(accepted.generation_id)
        paths = tf.download(generation, "thumbs")

The models (``Generation``, ``Thumbnail``, …) and the low-level client
(``thumbforge._api``) are generated from docs/openapi.json by
openapi-python-client; this package's own code is the layer above them.
"""

from ._api.models import AspectRatio, Format, GenerateResponse, GenerationStatus, ThumbnailStatus, WebhookEvents
from ._api.models import GenerationBody as Generation
from ._api.models import ThumbnailBody as Thumbnail
from .client import TERMINAL, Thumbforge, __version__, verify_webhook
from .errors import (
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
    ValidationError,
    WaitTimeout,
    WebhookVerificationError,
)

__all__ = [
    "TERMINAL",
    "AspectRatio",
    "Format",
    "AuthenticationError",
    "Conflict",
    "ConnectionError",
    "GenerateResponse",
    "Generation",
    "GenerationStatus",
    "NotFound",
    "PaymentRequired",
    "PermissionDenied",
    "RateLimited",
    "RequestTimeout",
    "ServerError",
    "ServiceUnavailable",
    "Thumbforge",
    "ThumbforgeError",
    "Thumbnail",
    "ThumbnailStatus",
    "ValidationError",
    "WaitTimeout",
    "WebhookEvents",
    "WebhookVerificationError",
    "__version__",
    "verify_webhook",
]

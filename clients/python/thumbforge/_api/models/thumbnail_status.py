from enum import StrEnum


class ThumbnailStatus(StrEnum):
    CANCELED = "canceled"
    FAILED = "failed"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"

    def __str__(self) -> str:
        return str(self.value)

from enum import StrEnum


class GenerationStatus(StrEnum):
    CANCELED = "canceled"
    FAILED = "failed"
    PARTIAL = "partial"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"

    def __str__(self) -> str:
        return str(self.value)

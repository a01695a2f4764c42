from enum import StrEnum


class WebhookEvents(StrEnum):
    ALL = "all"
    COMPLETED = "completed"

    def __str__(self) -> str:
        return str(self.value)

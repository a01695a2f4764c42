from enum import StrEnum


class Stage(StrEnum):
    QUEUED = "queued"
    RENDERING = "rendering"

    def __str__(self) -> str:
        return str(self.value)

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.webhook_generation import WebhookGeneration


T = TypeVar("T", bound="GenerationCompleted")


@_attrs_define
class GenerationCompleted:
    """`generation.completed`.

    Attributes:
        data (WebhookGeneration): The generation, without image URLs (they are signed per request:
            fetch `GET /api/v1/generations/{id}` for them).
        timestamp (str): When the event was queued, RFC 3339 with milliseconds.
        type_ (str): `generation.completed`.
    """

    data: WebhookGeneration
    timestamp: str
    type_: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = self.data.to_dict()

        timestamp = self.timestamp

        type_ = self.type_

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "data": data,
                "timestamp": timestamp,
                "type": type_,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.webhook_generation import WebhookGeneration  # noqa: PLC0415

        d = dict(src_dict)
        data = WebhookGeneration.from_dict(d.pop("data"))

        timestamp = d.pop("timestamp")

        type_ = d.pop("type")

        generation_completed = cls(
            data=data,
            timestamp=timestamp,
            type_=type_,
        )

        generation_completed.additional_properties = d
        return generation_completed

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.webhook_thumbnail import WebhookThumbnail


T = TypeVar("T", bound="ThumbnailEnded")


@_attrs_define
class ThumbnailEnded:
    """`thumbnail.succeeded`, `thumbnail.failed` or `thumbnail.canceled`.

    Attributes:
        data (WebhookThumbnail): One thumbnail, without its image URL.
        timestamp (str): When the event was queued, RFC 3339 with milliseconds.
        type_ (str):
    """

    data: WebhookThumbnail
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
        from ..models.webhook_thumbnail import WebhookThumbnail  # noqa: PLC0415

        d = dict(src_dict)
        data = WebhookThumbnail.from_dict(d.pop("data"))

        timestamp = d.pop("timestamp")

        type_ = d.pop("type")

        thumbnail_ended = cls(
            data=data,
            timestamp=timestamp,
            type_=type_,
        )

        thumbnail_ended.additional_properties = d
        return thumbnail_ended

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

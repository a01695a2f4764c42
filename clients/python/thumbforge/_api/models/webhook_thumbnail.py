from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.thumbnail_status import ThumbnailStatus
from ..types import UNSET, Unset

T = TypeVar("T", bound="WebhookThumbnail")


@_attrs_define
class WebhookThumbnail:
    """One thumbnail, without its image URL.

    Attributes:
        generation_id (str):
        id (str):
        is_hidden (bool):
        is_watermarked (bool):
        status (ThumbnailStatus): `processing`, then `succeeded`, `failed` or `canceled`, never back.
        error (None | str | Unset):
    """

    generation_id: str
    id: str
    is_hidden: bool
    is_watermarked: bool
    status: ThumbnailStatus
    error: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        generation_id = self.generation_id

        id = self.id

        is_hidden = self.is_hidden

        is_watermarked = self.is_watermarked

        status = self.status.value

        error: None | str | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        else:
            error = self.error

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "generationId": generation_id,
                "id": id,
                "isHidden": is_hidden,
                "isWatermarked": is_watermarked,
                "status": status,
            }
        )
        if error is not UNSET:
            field_dict["error"] = error

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        generation_id = d.pop("generationId")

        id = d.pop("id")

        is_hidden = d.pop("isHidden")

        is_watermarked = d.pop("isWatermarked")

        status = ThumbnailStatus(d.pop("status"))

        def _parse_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error = _parse_error(d.pop("error", UNSET))

        webhook_thumbnail = cls(
            generation_id=generation_id,
            id=id,
            is_hidden=is_hidden,
            is_watermarked=is_watermarked,
            status=status,
            error=error,
        )

        webhook_thumbnail.additional_properties = d
        return webhook_thumbnail

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

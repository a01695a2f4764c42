from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.generation_status import GenerationStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.webhook_thumbnail import WebhookThumbnail


T = TypeVar("T", bound="WebhookGeneration")


@_attrs_define
class WebhookGeneration:
    """The generation, without image URLs (they are signed per request:
    fetch `GET /api/v1/generations/{id}` for them).

        Attributes:
            count (int):
            created_at (int): Unix milliseconds.
            id (str):
            model (str):
            status (GenerationStatus): `processing` until every thumbnail has ended; then `succeeded`, `partial`, `failed`
                or `canceled` (docs/architecture.md, "Status rules").
            thumbnails (list[WebhookThumbnail]):
            completed_at (int | None | Unset): Unix milliseconds.
    """

    count: int
    created_at: int
    id: str
    model: str
    status: GenerationStatus
    thumbnails: list[WebhookThumbnail]
    completed_at: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        count = self.count

        created_at = self.created_at

        id = self.id

        model = self.model

        status = self.status.value

        thumbnails = []
        for thumbnails_item_data in self.thumbnails:
            thumbnails_item = thumbnails_item_data.to_dict()
            thumbnails.append(thumbnails_item)

        completed_at: int | None | Unset
        if isinstance(self.completed_at, Unset):
            completed_at = UNSET
        else:
            completed_at = self.completed_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "count": count,
                "createdAt": created_at,
                "id": id,
                "model": model,
                "status": status,
                "thumbnails": thumbnails,
            }
        )
        if completed_at is not UNSET:
            field_dict["completedAt"] = completed_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.webhook_thumbnail import WebhookThumbnail  # noqa: PLC0415

        d = dict(src_dict)
        count = d.pop("count")

        created_at = d.pop("createdAt")

        id = d.pop("id")

        model = d.pop("model")

        status = GenerationStatus(d.pop("status"))

        thumbnails = []
        _thumbnails = d.pop("thumbnails")
        for thumbnails_item_data in _thumbnails:
            thumbnails_item = WebhookThumbnail.from_dict(thumbnails_item_data)

            thumbnails.append(thumbnails_item)

        def _parse_completed_at(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        completed_at = _parse_completed_at(d.pop("completedAt", UNSET))

        webhook_generation = cls(
            count=count,
            created_at=created_at,
            id=id,
            model=model,
            status=status,
            thumbnails=thumbnails,
            completed_at=completed_at,
        )

        webhook_generation.additional_properties = d
        return webhook_generation

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

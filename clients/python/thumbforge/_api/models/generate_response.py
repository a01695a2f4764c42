from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.generation_status import GenerationStatus

T = TypeVar("T", bound="GenerateResponse")


@_attrs_define
class GenerateResponse:
    """
    Attributes:
        generation_id (str):
        status (GenerationStatus): `processing` until every thumbnail has ended; then `succeeded`, `partial`, `failed`
            or `canceled` (docs/architecture.md, "Status rules").
        thumbnail_ids (list[str]):
    """

    generation_id: str
    status: GenerationStatus
    thumbnail_ids: list[str]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        generation_id = self.generation_id

        status = self.status.value

        thumbnail_ids = self.thumbnail_ids

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "generationId": generation_id,
                "status": status,
                "thumbnailIds": thumbnail_ids,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        generation_id = d.pop("generationId")

        status = GenerationStatus(d.pop("status"))

        thumbnail_ids = cast(list[str], d.pop("thumbnailIds"))

        generate_response = cls(
            generation_id=generation_id,
            status=status,
            thumbnail_ids=thumbnail_ids,
        )

        generate_response.additional_properties = d
        return generate_response

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

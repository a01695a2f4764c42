from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="AssetBody")


@_attrs_define
class AssetBody:
    """
    Attributes:
        content_type (str):
        created_at (int):
        height (int):
        id (str):
        kind (str):
        size_bytes (int):
        width (int):
        filename (None | str | Unset):
    """

    content_type: str
    created_at: int
    height: int
    id: str
    kind: str
    size_bytes: int
    width: int
    filename: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        content_type = self.content_type

        created_at = self.created_at

        height = self.height

        id = self.id

        kind = self.kind

        size_bytes = self.size_bytes

        width = self.width

        filename: None | str | Unset
        if isinstance(self.filename, Unset):
            filename = UNSET
        else:
            filename = self.filename

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "contentType": content_type,
                "createdAt": created_at,
                "height": height,
                "id": id,
                "kind": kind,
                "sizeBytes": size_bytes,
                "width": width,
            }
        )
        if filename is not UNSET:
            field_dict["filename"] = filename

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        content_type = d.pop("contentType")

        created_at = d.pop("createdAt")

        height = d.pop("height")

        id = d.pop("id")

        kind = d.pop("kind")

        size_bytes = d.pop("sizeBytes")

        width = d.pop("width")

        def _parse_filename(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        filename = _parse_filename(d.pop("filename", UNSET))

        asset_body = cls(
            content_type=content_type,
            created_at=created_at,
            height=height,
            id=id,
            kind=kind,
            size_bytes=size_bytes,
            width=width,
            filename=filename,
        )

        asset_body.additional_properties = d
        return asset_body

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

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="StyleBody")


@_attrs_define
class StyleBody:
    """A stored style preset.

    Attributes:
        accent_color (str):
        background_colors (list[str]):
        created_at (int):
        id (str):
        name (str):
        outline (str):
        uppercase (bool):
    """

    accent_color: str
    background_colors: list[str]
    created_at: int
    id: str
    name: str
    outline: str
    uppercase: bool
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        accent_color = self.accent_color

        background_colors = self.background_colors

        created_at = self.created_at

        id = self.id

        name = self.name

        outline = self.outline

        uppercase = self.uppercase

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "accentColor": accent_color,
                "backgroundColors": background_colors,
                "createdAt": created_at,
                "id": id,
                "name": name,
                "outline": outline,
                "uppercase": uppercase,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        accent_color = d.pop("accentColor")

        background_colors = cast(list[str], d.pop("backgroundColors"))

        created_at = d.pop("createdAt")

        id = d.pop("id")

        name = d.pop("name")

        outline = d.pop("outline")

        uppercase = d.pop("uppercase")

        style_body = cls(
            accent_color=accent_color,
            background_colors=background_colors,
            created_at=created_at,
            id=id,
            name=name,
            outline=outline,
            uppercase=uppercase,
        )

        style_body.additional_properties = d
        return style_body

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

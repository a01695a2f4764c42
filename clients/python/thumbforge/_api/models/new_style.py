from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="NewStyle")


@_attrs_define
class NewStyle:
    """What `POST /api/v1/styles` takes.

    Attributes:
        accent_color (str): `#rrggbb`: the emphasised word.
        background_colors (list[str]): Two `#rrggbb` colours: the background gradient.
        name (str):
        outline (None | str | Unset): `thick` (default), `thin` or `none`.
        uppercase (bool | None | Unset): Headline in capitals (default true).
    """

    accent_color: str
    background_colors: list[str]
    name: str
    outline: None | str | Unset = UNSET
    uppercase: bool | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        accent_color = self.accent_color

        background_colors = self.background_colors

        name = self.name

        outline: None | str | Unset
        if isinstance(self.outline, Unset):
            outline = UNSET
        else:
            outline = self.outline

        uppercase: bool | None | Unset
        if isinstance(self.uppercase, Unset):
            uppercase = UNSET
        else:
            uppercase = self.uppercase

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "accentColor": accent_color,
                "backgroundColors": background_colors,
                "name": name,
            }
        )
        if outline is not UNSET:
            field_dict["outline"] = outline
        if uppercase is not UNSET:
            field_dict["uppercase"] = uppercase

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        accent_color = d.pop("accentColor")

        background_colors = cast(list[str], d.pop("backgroundColors"))

        name = d.pop("name")

        def _parse_outline(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        outline = _parse_outline(d.pop("outline", UNSET))

        def _parse_uppercase(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        uppercase = _parse_uppercase(d.pop("uppercase", UNSET))

        new_style = cls(
            accent_color=accent_color,
            background_colors=background_colors,
            name=name,
            outline=outline,
            uppercase=uppercase,
        )

        new_style.additional_properties = d
        return new_style

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

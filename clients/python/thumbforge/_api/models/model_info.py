from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="ModelInfo")


@_attrs_define
class ModelInfo:
    """
    Attributes:
        available (bool): Whether this caller may use it on the server's keys now: its plan
            allows it and the server has a key for one of its providers.
        credits_ (int): Credits per thumbnail on the server's keys (the org's own key: 0).
        default (bool): The server's default model.
        min_plan (str): The lowest plan that may use it.
        name (str): The name to send as `model`.
    """

    available: bool
    credits_: int
    default: bool
    min_plan: str
    name: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        available = self.available

        credits_ = self.credits_

        default = self.default

        min_plan = self.min_plan

        name = self.name

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "available": available,
                "credits": credits_,
                "default": default,
                "minPlan": min_plan,
                "name": name,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        available = d.pop("available")

        credits_ = d.pop("credits")

        default = d.pop("default")

        min_plan = d.pop("minPlan")

        name = d.pop("name")

        model_info = cls(
            available=available,
            credits_=credits_,
            default=default,
            min_plan=min_plan,
            name=name,
        )

        model_info.additional_properties = d
        return model_info

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

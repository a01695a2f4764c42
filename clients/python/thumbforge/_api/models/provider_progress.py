from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.provider_stage_name import ProviderStageName
from ..types import UNSET, Unset

T = TypeVar("T", bound="ProviderProgress")


@_attrs_define
class ProviderProgress:
    """What a provider says of a call in flight.

    Attributes:
        stage (ProviderStageName): Where a call stands at its provider.
        percent (int | None | Unset): While running, when the backend says (ComfyUI, sdapi): how much of
            the image is made, 0 to 100, in steps of 5.
        queue_position (int | None | Unset): While queued at the provider: the requests ahead of it there.
    """

    stage: ProviderStageName
    percent: int | None | Unset = UNSET
    queue_position: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        stage = self.stage.value

        percent: int | None | Unset
        if isinstance(self.percent, Unset):
            percent = UNSET
        else:
            percent = self.percent

        queue_position: int | None | Unset
        if isinstance(self.queue_position, Unset):
            queue_position = UNSET
        else:
            queue_position = self.queue_position

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "stage": stage,
            }
        )
        if percent is not UNSET:
            field_dict["percent"] = percent
        if queue_position is not UNSET:
            field_dict["queuePosition"] = queue_position

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        stage = ProviderStageName(d.pop("stage"))

        def _parse_percent(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        percent = _parse_percent(d.pop("percent", UNSET))

        def _parse_queue_position(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        queue_position = _parse_queue_position(d.pop("queuePosition", UNSET))

        provider_progress = cls(
            stage=stage,
            percent=percent,
            queue_position=queue_position,
        )

        provider_progress.additional_properties = d
        return provider_progress

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

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.stage import Stage
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.provider_progress import ProviderProgress


T = TypeVar("T", bound="Progress")


@_attrs_define
class Progress:
    """Where a processing thumbnail stands.

    Attributes:
        stage (Stage): Where a processing thumbnail is.
        provider (None | ProviderProgress | Unset):
        queue_position (int | None | Unset): While queued: its place among its organisation's waiting
            thumbnails, 1 being the next to start. Other organisations' work
            takes turns with it, so this is the queue it can shorten.
    """

    stage: Stage
    provider: None | ProviderProgress | Unset = UNSET
    queue_position: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.provider_progress import ProviderProgress  # noqa: PLC0415

        stage = self.stage.value

        provider: dict[str, Any] | None | Unset
        if isinstance(self.provider, Unset):
            provider = UNSET
        elif isinstance(self.provider, ProviderProgress):
            provider = self.provider.to_dict()
        else:
            provider = self.provider

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
        if provider is not UNSET:
            field_dict["provider"] = provider
        if queue_position is not UNSET:
            field_dict["queuePosition"] = queue_position

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.provider_progress import ProviderProgress  # noqa: PLC0415

        d = dict(src_dict)
        stage = Stage(d.pop("stage"))

        def _parse_provider(data: object) -> None | ProviderProgress | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                provider_type_0 = ProviderProgress.from_dict(data)

                return provider_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ProviderProgress | Unset, data)

        provider = _parse_provider(d.pop("provider", UNSET))

        def _parse_queue_position(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        queue_position = _parse_queue_position(d.pop("queuePosition", UNSET))

        progress = cls(
            stage=stage,
            provider=provider,
            queue_position=queue_position,
        )

        progress.additional_properties = d
        return progress

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

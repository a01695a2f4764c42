from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="QueueBackend")


@_attrs_define
class QueueBackend:
    """What the queue backend itself reports.

    Attributes:
        depth (int): Jobs in the queue, waiting or held.
        kind (str): `sqlite` (embedded) or `redis`.
        in_flight (int | None | Unset): Jobs delivered to a worker and not yet acknowledged (Redis only).
    """

    depth: int
    kind: str
    in_flight: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        depth = self.depth

        kind = self.kind

        in_flight: int | None | Unset
        if isinstance(self.in_flight, Unset):
            in_flight = UNSET
        else:
            in_flight = self.in_flight

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "depth": depth,
                "kind": kind,
            }
        )
        if in_flight is not UNSET:
            field_dict["inFlight"] = in_flight

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        depth = d.pop("depth")

        kind = d.pop("kind")

        def _parse_in_flight(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        in_flight = _parse_in_flight(d.pop("inFlight", UNSET))

        queue_backend = cls(
            depth=depth,
            kind=kind,
            in_flight=in_flight,
        )

        queue_backend.additional_properties = d
        return queue_backend

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

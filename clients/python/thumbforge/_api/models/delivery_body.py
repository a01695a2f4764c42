from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.delivery_status import DeliveryStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.attempt_body import AttemptBody


T = TypeVar("T", bound="DeliveryBody")


@_attrs_define
class DeliveryBody:
    """
    Attributes:
        attempts (list[AttemptBody]):
        created_at (int):
        event_type (str):
        generation_id (str):
        id (str):
        next_attempt_at (int):
        status (DeliveryStatus): A webhook delivery: `pending` (to be tried, or tried again), `delivered`, or `failed`
            after its last attempt.
        url (str):
        delivered_at (int | None | Unset):
        last_error (None | str | Unset):
    """

    attempts: list[AttemptBody]
    created_at: int
    event_type: str
    generation_id: str
    id: str
    next_attempt_at: int
    status: DeliveryStatus
    url: str
    delivered_at: int | None | Unset = UNSET
    last_error: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        attempts = []
        for attempts_item_data in self.attempts:
            attempts_item = attempts_item_data.to_dict()
            attempts.append(attempts_item)

        created_at = self.created_at

        event_type = self.event_type

        generation_id = self.generation_id

        id = self.id

        next_attempt_at = self.next_attempt_at

        status = self.status.value

        url = self.url

        delivered_at: int | None | Unset
        if isinstance(self.delivered_at, Unset):
            delivered_at = UNSET
        else:
            delivered_at = self.delivered_at

        last_error: None | str | Unset
        if isinstance(self.last_error, Unset):
            last_error = UNSET
        else:
            last_error = self.last_error

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attempts": attempts,
                "createdAt": created_at,
                "eventType": event_type,
                "generationId": generation_id,
                "id": id,
                "nextAttemptAt": next_attempt_at,
                "status": status,
                "url": url,
            }
        )
        if delivered_at is not UNSET:
            field_dict["deliveredAt"] = delivered_at
        if last_error is not UNSET:
            field_dict["lastError"] = last_error

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.attempt_body import AttemptBody  # noqa: PLC0415

        d = dict(src_dict)
        attempts = []
        _attempts = d.pop("attempts")
        for attempts_item_data in _attempts:
            attempts_item = AttemptBody.from_dict(attempts_item_data)

            attempts.append(attempts_item)

        created_at = d.pop("createdAt")

        event_type = d.pop("eventType")

        generation_id = d.pop("generationId")

        id = d.pop("id")

        next_attempt_at = d.pop("nextAttemptAt")

        status = DeliveryStatus(d.pop("status"))

        url = d.pop("url")

        def _parse_delivered_at(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        delivered_at = _parse_delivered_at(d.pop("deliveredAt", UNSET))

        def _parse_last_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        last_error = _parse_last_error(d.pop("lastError", UNSET))

        delivery_body = cls(
            attempts=attempts,
            created_at=created_at,
            event_type=event_type,
            generation_id=generation_id,
            id=id,
            next_attempt_at=next_attempt_at,
            status=status,
            url=url,
            delivered_at=delivered_at,
            last_error=last_error,
        )

        delivery_body.additional_properties = d
        return delivery_body

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

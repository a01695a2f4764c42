from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.queue_backend import QueueBackend
    from ..models.queue_report_dead_item import QueueReportDeadItem
    from ..models.queue_report_overview import QueueReportOverview
    from ..models.queue_report_retrying_item import QueueReportRetryingItem


T = TypeVar("T", bound="QueueReport")


@_attrs_define
class QueueReport:
    """
    Attributes:
        dead (list[QueueReportDeadItem]): Failed thumbnails not yet dismissed, newest first.
        overview (QueueReportOverview):
        queue (QueueBackend): What the queue backend itself reports.
        retrying (list[QueueReportRetryingItem]): Processing thumbnails after more than one claim, oldest first.
    """

    dead: list[QueueReportDeadItem]
    overview: QueueReportOverview
    queue: QueueBackend
    retrying: list[QueueReportRetryingItem]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        dead = []
        for dead_item_data in self.dead:
            dead_item = dead_item_data.to_dict()
            dead.append(dead_item)

        overview = self.overview.to_dict()

        queue = self.queue.to_dict()

        retrying = []
        for retrying_item_data in self.retrying:
            retrying_item = retrying_item_data.to_dict()
            retrying.append(retrying_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "dead": dead,
                "overview": overview,
                "queue": queue,
                "retrying": retrying,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.queue_backend import QueueBackend  # noqa: PLC0415
        from ..models.queue_report_dead_item import QueueReportDeadItem  # noqa: PLC0415
        from ..models.queue_report_overview import QueueReportOverview  # noqa: PLC0415
        from ..models.queue_report_retrying_item import QueueReportRetryingItem  # noqa: PLC0415

        d = dict(src_dict)
        dead = []
        _dead = d.pop("dead")
        for dead_item_data in _dead:
            dead_item = QueueReportDeadItem.from_dict(dead_item_data)

            dead.append(dead_item)

        overview = QueueReportOverview.from_dict(d.pop("overview"))

        queue = QueueBackend.from_dict(d.pop("queue"))

        retrying = []
        _retrying = d.pop("retrying")
        for retrying_item_data in _retrying:
            retrying_item = QueueReportRetryingItem.from_dict(retrying_item_data)

            retrying.append(retrying_item)

        queue_report = cls(
            dead=dead,
            overview=overview,
            queue=queue,
            retrying=retrying,
        )

        queue_report.additional_properties = d
        return queue_report

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

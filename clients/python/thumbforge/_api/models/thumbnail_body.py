from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.format_ import Format
from ..models.thumbnail_status import ThumbnailStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.progress import Progress


T = TypeVar("T", bound="ThumbnailBody")


@_attrs_define
class ThumbnailBody:
    """
    Attributes:
        format_ (Format): A thumbnail's file format.
        id (str):
        is_hidden (bool):
        is_watermarked (bool):
        status (ThumbnailStatus): `processing`, then `succeeded`, `failed` or `canceled`, never back.
        error (None | str | Unset):
        file_size_bytes (int | None | Unset): The size in bytes of the file `url` serves, once it has succeeded;
            never over 2,097,152 (YouTube's limit).
        progress (None | Progress | Unset):
        url (None | str | Unset):
    """

    format_: Format
    id: str
    is_hidden: bool
    is_watermarked: bool
    status: ThumbnailStatus
    error: None | str | Unset = UNSET
    file_size_bytes: int | None | Unset = UNSET
    progress: None | Progress | Unset = UNSET
    url: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.progress import Progress  # noqa: PLC0415

        format_ = self.format_.value

        id = self.id

        is_hidden = self.is_hidden

        is_watermarked = self.is_watermarked

        status = self.status.value

        error: None | str | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        else:
            error = self.error

        file_size_bytes: int | None | Unset
        if isinstance(self.file_size_bytes, Unset):
            file_size_bytes = UNSET
        else:
            file_size_bytes = self.file_size_bytes

        progress: dict[str, Any] | None | Unset
        if isinstance(self.progress, Unset):
            progress = UNSET
        elif isinstance(self.progress, Progress):
            progress = self.progress.to_dict()
        else:
            progress = self.progress

        url: None | str | Unset
        if isinstance(self.url, Unset):
            url = UNSET
        else:
            url = self.url

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "format": format_,
                "id": id,
                "isHidden": is_hidden,
                "isWatermarked": is_watermarked,
                "status": status,
            }
        )
        if error is not UNSET:
            field_dict["error"] = error
        if file_size_bytes is not UNSET:
            field_dict["fileSizeBytes"] = file_size_bytes
        if progress is not UNSET:
            field_dict["progress"] = progress
        if url is not UNSET:
            field_dict["url"] = url

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.progress import Progress  # noqa: PLC0415

        d = dict(src_dict)
        format_ = Format(d.pop("format"))

        id = d.pop("id")

        is_hidden = d.pop("isHidden")

        is_watermarked = d.pop("isWatermarked")

        status = ThumbnailStatus(d.pop("status"))

        def _parse_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error = _parse_error(d.pop("error", UNSET))

        def _parse_file_size_bytes(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        file_size_bytes = _parse_file_size_bytes(d.pop("fileSizeBytes", UNSET))

        def _parse_progress(data: object) -> None | Progress | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                progress_type_0 = Progress.from_dict(data)

                return progress_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Progress | Unset, data)

        progress = _parse_progress(d.pop("progress", UNSET))

        def _parse_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        url = _parse_url(d.pop("url", UNSET))

        thumbnail_body = cls(
            format_=format_,
            id=id,
            is_hidden=is_hidden,
            is_watermarked=is_watermarked,
            status=status,
            error=error,
            file_size_bytes=file_size_bytes,
            progress=progress,
            url=url,
        )

        thumbnail_body.additional_properties = d
        return thumbnail_body

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

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.aspect_ratio import AspectRatio
from ..models.generation_status import GenerationStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.thumbnail_body import ThumbnailBody


T = TypeVar("T", bound="GenerationBody")


@_attrs_define
class GenerationBody:
    """
    Attributes:
        aspect_ratio (AspectRatio): The output shape: 16:9 is 1280x720, 4:3 is 960x720, 1:1 is 720x720.
        count (int):
        created_at (int):
        id (str):
        model (str):
        prompt (str): Extension (Flokan's record has it): the prompt it was made from.
        status (GenerationStatus): `processing` until every thumbnail has ended; then `succeeded`, `partial`, `failed`
            or `canceled` (docs/architecture.md, "Status rules").
        thumbnails (list[ThumbnailBody]):
        title (None | str | Unset): Extension (Flokan's `video_title`): the video's title, when given.
    """

    aspect_ratio: AspectRatio
    count: int
    created_at: int
    id: str
    model: str
    prompt: str
    status: GenerationStatus
    thumbnails: list[ThumbnailBody]
    title: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        aspect_ratio = self.aspect_ratio.value

        count = self.count

        created_at = self.created_at

        id = self.id

        model = self.model

        prompt = self.prompt

        status = self.status.value

        thumbnails = []
        for thumbnails_item_data in self.thumbnails:
            thumbnails_item = thumbnails_item_data.to_dict()
            thumbnails.append(thumbnails_item)

        title: None | str | Unset
        if isinstance(self.title, Unset):
            title = UNSET
        else:
            title = self.title

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "aspectRatio": aspect_ratio,
                "count": count,
                "createdAt": created_at,
                "id": id,
                "model": model,
                "prompt": prompt,
                "status": status,
                "thumbnails": thumbnails,
            }
        )
        if title is not UNSET:
            field_dict["title"] = title

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.thumbnail_body import ThumbnailBody  # noqa: PLC0415

        d = dict(src_dict)
        aspect_ratio = AspectRatio(d.pop("aspectRatio"))

        count = d.pop("count")

        created_at = d.pop("createdAt")

        id = d.pop("id")

        model = d.pop("model")

        prompt = d.pop("prompt")

        status = GenerationStatus(d.pop("status"))

        thumbnails = []
        _thumbnails = d.pop("thumbnails")
        for thumbnails_item_data in _thumbnails:
            thumbnails_item = ThumbnailBody.from_dict(thumbnails_item_data)

            thumbnails.append(thumbnails_item)

        def _parse_title(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        title = _parse_title(d.pop("title", UNSET))

        generation_body = cls(
            aspect_ratio=aspect_ratio,
            count=count,
            created_at=created_at,
            id=id,
            model=model,
            prompt=prompt,
            status=status,
            thumbnails=thumbnails,
            title=title,
        )

        generation_body.additional_properties = d
        return generation_body

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

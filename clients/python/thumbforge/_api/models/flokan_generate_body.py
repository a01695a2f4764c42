from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="FlokanGenerateBody")


@_attrs_define
class FlokanGenerateBody:
    """`POST /generate`'s documented body.

    Attributes:
        aspect_ratio (None | str | Unset):
        card_id (None | str | Unset):
        image_count (int | None | Unset):
        image_model (None | str | Unset):
        prompt (None | str | Unset):
        provider (None | str | Unset):
        reference_image_url (None | str | Unset):
        style_id (None | str | Unset):
        video_title (None | str | Unset):
        youtube_references (list[str] | None | Unset):
    """

    aspect_ratio: None | str | Unset = UNSET
    card_id: None | str | Unset = UNSET
    image_count: int | None | Unset = UNSET
    image_model: None | str | Unset = UNSET
    prompt: None | str | Unset = UNSET
    provider: None | str | Unset = UNSET
    reference_image_url: None | str | Unset = UNSET
    style_id: None | str | Unset = UNSET
    video_title: None | str | Unset = UNSET
    youtube_references: list[str] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        aspect_ratio: None | str | Unset
        if isinstance(self.aspect_ratio, Unset):
            aspect_ratio = UNSET
        else:
            aspect_ratio = self.aspect_ratio

        card_id: None | str | Unset
        if isinstance(self.card_id, Unset):
            card_id = UNSET
        else:
            card_id = self.card_id

        image_count: int | None | Unset
        if isinstance(self.image_count, Unset):
            image_count = UNSET
        else:
            image_count = self.image_count

        image_model: None | str | Unset
        if isinstance(self.image_model, Unset):
            image_model = UNSET
        else:
            image_model = self.image_model

        prompt: None | str | Unset
        if isinstance(self.prompt, Unset):
            prompt = UNSET
        else:
            prompt = self.prompt

        provider: None | str | Unset
        if isinstance(self.provider, Unset):
            provider = UNSET
        else:
            provider = self.provider

        reference_image_url: None | str | Unset
        if isinstance(self.reference_image_url, Unset):
            reference_image_url = UNSET
        else:
            reference_image_url = self.reference_image_url

        style_id: None | str | Unset
        if isinstance(self.style_id, Unset):
            style_id = UNSET
        else:
            style_id = self.style_id

        video_title: None | str | Unset
        if isinstance(self.video_title, Unset):
            video_title = UNSET
        else:
            video_title = self.video_title

        youtube_references: list[str] | None | Unset
        if isinstance(self.youtube_references, Unset):
            youtube_references = UNSET
        elif isinstance(self.youtube_references, list):
            youtube_references = self.youtube_references

        else:
            youtube_references = self.youtube_references

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if aspect_ratio is not UNSET:
            field_dict["aspect_ratio"] = aspect_ratio
        if card_id is not UNSET:
            field_dict["card_id"] = card_id
        if image_count is not UNSET:
            field_dict["image_count"] = image_count
        if image_model is not UNSET:
            field_dict["image_model"] = image_model
        if prompt is not UNSET:
            field_dict["prompt"] = prompt
        if provider is not UNSET:
            field_dict["provider"] = provider
        if reference_image_url is not UNSET:
            field_dict["reference_image_url"] = reference_image_url
        if style_id is not UNSET:
            field_dict["style_id"] = style_id
        if video_title is not UNSET:
            field_dict["video_title"] = video_title
        if youtube_references is not UNSET:
            field_dict["youtube_references"] = youtube_references

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_aspect_ratio(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        aspect_ratio = _parse_aspect_ratio(d.pop("aspect_ratio", UNSET))

        def _parse_card_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        card_id = _parse_card_id(d.pop("card_id", UNSET))

        def _parse_image_count(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        image_count = _parse_image_count(d.pop("image_count", UNSET))

        def _parse_image_model(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        image_model = _parse_image_model(d.pop("image_model", UNSET))

        def _parse_prompt(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        prompt = _parse_prompt(d.pop("prompt", UNSET))

        def _parse_provider(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        provider = _parse_provider(d.pop("provider", UNSET))

        def _parse_reference_image_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reference_image_url = _parse_reference_image_url(d.pop("reference_image_url", UNSET))

        def _parse_style_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        style_id = _parse_style_id(d.pop("style_id", UNSET))

        def _parse_video_title(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        video_title = _parse_video_title(d.pop("video_title", UNSET))

        def _parse_youtube_references(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                youtube_references_type_0 = cast(list[str], data)

                return youtube_references_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        youtube_references = _parse_youtube_references(d.pop("youtube_references", UNSET))

        flokan_generate_body = cls(
            aspect_ratio=aspect_ratio,
            card_id=card_id,
            image_count=image_count,
            image_model=image_model,
            prompt=prompt,
            provider=provider,
            reference_image_url=reference_image_url,
            style_id=style_id,
            video_title=video_title,
            youtube_references=youtube_references,
        )

        flokan_generate_body.additional_properties = d
        return flokan_generate_body

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

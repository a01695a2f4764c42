from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.aspect_ratio import AspectRatio
from ..models.format_ import Format
from ..models.webhook_events import WebhookEvents
from ..types import UNSET, Unset

T = TypeVar("T", bound="GenerateBody")


@_attrs_define
class GenerateBody:
    """The documented camelCase body. Unknown fields are ignored, as FatThumb
    clients may send more than this server reads.

        Attributes:
            prompt (str):
            aspect_ratio (AspectRatio | None | Unset):
            count (int | None | Unset):
            format_ (Format | None | Unset):
            inspiration_ids (list[str] | None | Unset):
            model (None | str | Unset):
            person_ids (list[str] | None | Unset):
            provider (None | str | Unset): Extension (Flokan's `provider`): `platform` or a BYOK provider.
            reference_image_url (None | str | Unset): Extension (Flokan's `reference_image_url`): the primary reference.
            style_id (None | str | Unset): Extension (Flokan's `style_id`): a style preset of the organisation.
            title (None | str | Unset): Extension (Flokan's `video_title`): the video's title, 1–500
                characters; the local renderer draws it instead of the prompt.
            webhook_events (None | Unset | WebhookEvents):
            webhook_url (None | str | Unset): Where to POST this generation's events (Standard Webhooks).
            youtube_references (list[str] | None | Unset): Extension (Flokan's `youtube_references`): up to 6 image URLs.
    """

    prompt: str
    aspect_ratio: AspectRatio | None | Unset = UNSET
    count: int | None | Unset = UNSET
    format_: Format | None | Unset = UNSET
    inspiration_ids: list[str] | None | Unset = UNSET
    model: None | str | Unset = UNSET
    person_ids: list[str] | None | Unset = UNSET
    provider: None | str | Unset = UNSET
    reference_image_url: None | str | Unset = UNSET
    style_id: None | str | Unset = UNSET
    title: None | str | Unset = UNSET
    webhook_events: None | Unset | WebhookEvents = UNSET
    webhook_url: None | str | Unset = UNSET
    youtube_references: list[str] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        prompt = self.prompt

        aspect_ratio: None | str | Unset
        if isinstance(self.aspect_ratio, Unset):
            aspect_ratio = UNSET
        elif isinstance(self.aspect_ratio, AspectRatio):
            aspect_ratio = self.aspect_ratio.value
        else:
            aspect_ratio = self.aspect_ratio

        count: int | None | Unset
        if isinstance(self.count, Unset):
            count = UNSET
        else:
            count = self.count

        format_: None | str | Unset
        if isinstance(self.format_, Unset):
            format_ = UNSET
        elif isinstance(self.format_, Format):
            format_ = self.format_.value
        else:
            format_ = self.format_

        inspiration_ids: list[str] | None | Unset
        if isinstance(self.inspiration_ids, Unset):
            inspiration_ids = UNSET
        elif isinstance(self.inspiration_ids, list):
            inspiration_ids = self.inspiration_ids

        else:
            inspiration_ids = self.inspiration_ids

        model: None | str | Unset
        if isinstance(self.model, Unset):
            model = UNSET
        else:
            model = self.model

        person_ids: list[str] | None | Unset
        if isinstance(self.person_ids, Unset):
            person_ids = UNSET
        elif isinstance(self.person_ids, list):
            person_ids = self.person_ids

        else:
            person_ids = self.person_ids

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

        title: None | str | Unset
        if isinstance(self.title, Unset):
            title = UNSET
        else:
            title = self.title

        webhook_events: None | str | Unset
        if isinstance(self.webhook_events, Unset):
            webhook_events = UNSET
        elif isinstance(self.webhook_events, WebhookEvents):
            webhook_events = self.webhook_events.value
        else:
            webhook_events = self.webhook_events

        webhook_url: None | str | Unset
        if isinstance(self.webhook_url, Unset):
            webhook_url = UNSET
        else:
            webhook_url = self.webhook_url

        youtube_references: list[str] | None | Unset
        if isinstance(self.youtube_references, Unset):
            youtube_references = UNSET
        elif isinstance(self.youtube_references, list):
            youtube_references = self.youtube_references

        else:
            youtube_references = self.youtube_references

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "prompt": prompt,
            }
        )
        if aspect_ratio is not UNSET:
            field_dict["aspectRatio"] = aspect_ratio
        if count is not UNSET:
            field_dict["count"] = count
        if format_ is not UNSET:
            field_dict["format"] = format_
        if inspiration_ids is not UNSET:
            field_dict["inspirationIds"] = inspiration_ids
        if model is not UNSET:
            field_dict["model"] = model
        if person_ids is not UNSET:
            field_dict["personIds"] = person_ids
        if provider is not UNSET:
            field_dict["provider"] = provider
        if reference_image_url is not UNSET:
            field_dict["referenceImageUrl"] = reference_image_url
        if style_id is not UNSET:
            field_dict["styleId"] = style_id
        if title is not UNSET:
            field_dict["title"] = title
        if webhook_events is not UNSET:
            field_dict["webhookEvents"] = webhook_events
        if webhook_url is not UNSET:
            field_dict["webhookUrl"] = webhook_url
        if youtube_references is not UNSET:
            field_dict["youtubeReferences"] = youtube_references

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        prompt = d.pop("prompt")

        def _parse_aspect_ratio(data: object) -> AspectRatio | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                aspect_ratio_type_0 = AspectRatio(data)

                return aspect_ratio_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AspectRatio | None | Unset, data)

        aspect_ratio = _parse_aspect_ratio(d.pop("aspectRatio", UNSET))

        def _parse_count(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        count = _parse_count(d.pop("count", UNSET))

        def _parse_format_(data: object) -> Format | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                format_type_0 = Format(data)

                return format_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Format | None | Unset, data)

        format_ = _parse_format_(d.pop("format", UNSET))

        def _parse_inspiration_ids(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                inspiration_ids_type_0 = cast(list[str], data)

                return inspiration_ids_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        inspiration_ids = _parse_inspiration_ids(d.pop("inspirationIds", UNSET))

        def _parse_model(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        model = _parse_model(d.pop("model", UNSET))

        def _parse_person_ids(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                person_ids_type_0 = cast(list[str], data)

                return person_ids_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        person_ids = _parse_person_ids(d.pop("personIds", UNSET))

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

        reference_image_url = _parse_reference_image_url(d.pop("referenceImageUrl", UNSET))

        def _parse_style_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        style_id = _parse_style_id(d.pop("styleId", UNSET))

        def _parse_title(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        title = _parse_title(d.pop("title", UNSET))

        def _parse_webhook_events(data: object) -> None | Unset | WebhookEvents:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                webhook_events_type_0 = WebhookEvents(data)

                return webhook_events_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | WebhookEvents, data)

        webhook_events = _parse_webhook_events(d.pop("webhookEvents", UNSET))

        def _parse_webhook_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        webhook_url = _parse_webhook_url(d.pop("webhookUrl", UNSET))

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

        youtube_references = _parse_youtube_references(d.pop("youtubeReferences", UNSET))

        generate_body = cls(
            prompt=prompt,
            aspect_ratio=aspect_ratio,
            count=count,
            format_=format_,
            inspiration_ids=inspiration_ids,
            model=model,
            person_ids=person_ids,
            provider=provider,
            reference_image_url=reference_image_url,
            style_id=style_id,
            title=title,
            webhook_events=webhook_events,
            webhook_url=webhook_url,
            youtube_references=youtube_references,
        )

        generate_body.additional_properties = d
        return generate_body

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

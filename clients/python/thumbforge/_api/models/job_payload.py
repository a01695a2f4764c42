from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.job_payload_style_type_0 import JobPayloadStyleType0


T = TypeVar("T", bound="JobPayload")


@_attrs_define
class JobPayload:
    """What a job was asked to make: its generation's request.

    Attributes:
        aspect_ratio (str):
        count (int):
        generation_id (str):
        generation_status (str):
        inspiration_ids (list[str]):
        model (str):
        org_id (str):
        person_ids (list[str]):
        prompt (str):
        provider (str): `system` or the organisation's own provider.
        reference_urls (list[str]):
        variation (int): The variation this thumbnail renders (0-based).
        style (JobPayloadStyleType0 | None | Unset):
        title (None | str | Unset):
        webhook_url (None | str | Unset):
    """

    aspect_ratio: str
    count: int
    generation_id: str
    generation_status: str
    inspiration_ids: list[str]
    model: str
    org_id: str
    person_ids: list[str]
    prompt: str
    provider: str
    reference_urls: list[str]
    variation: int
    style: JobPayloadStyleType0 | None | Unset = UNSET
    title: None | str | Unset = UNSET
    webhook_url: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.job_payload_style_type_0 import JobPayloadStyleType0  # noqa: PLC0415

        aspect_ratio = self.aspect_ratio

        count = self.count

        generation_id = self.generation_id

        generation_status = self.generation_status

        inspiration_ids = self.inspiration_ids

        model = self.model

        org_id = self.org_id

        person_ids = self.person_ids

        prompt = self.prompt

        provider = self.provider

        reference_urls = self.reference_urls

        variation = self.variation

        style: dict[str, Any] | None | Unset
        if isinstance(self.style, Unset):
            style = UNSET
        elif isinstance(self.style, JobPayloadStyleType0):
            style = self.style.to_dict()
        else:
            style = self.style

        title: None | str | Unset
        if isinstance(self.title, Unset):
            title = UNSET
        else:
            title = self.title

        webhook_url: None | str | Unset
        if isinstance(self.webhook_url, Unset):
            webhook_url = UNSET
        else:
            webhook_url = self.webhook_url

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "aspectRatio": aspect_ratio,
                "count": count,
                "generationId": generation_id,
                "generationStatus": generation_status,
                "inspirationIds": inspiration_ids,
                "model": model,
                "orgId": org_id,
                "personIds": person_ids,
                "prompt": prompt,
                "provider": provider,
                "referenceUrls": reference_urls,
                "variation": variation,
            }
        )
        if style is not UNSET:
            field_dict["style"] = style
        if title is not UNSET:
            field_dict["title"] = title
        if webhook_url is not UNSET:
            field_dict["webhookUrl"] = webhook_url

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.job_payload_style_type_0 import JobPayloadStyleType0  # noqa: PLC0415

        d = dict(src_dict)
        aspect_ratio = d.pop("aspectRatio")

        count = d.pop("count")

        generation_id = d.pop("generationId")

        generation_status = d.pop("generationStatus")

        inspiration_ids = cast(list[str], d.pop("inspirationIds"))

        model = d.pop("model")

        org_id = d.pop("orgId")

        person_ids = cast(list[str], d.pop("personIds"))

        prompt = d.pop("prompt")

        provider = d.pop("provider")

        reference_urls = cast(list[str], d.pop("referenceUrls"))

        variation = d.pop("variation")

        def _parse_style(data: object) -> JobPayloadStyleType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                style_type_0 = JobPayloadStyleType0.from_dict(data)

                return style_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(JobPayloadStyleType0 | None | Unset, data)

        style = _parse_style(d.pop("style", UNSET))

        def _parse_title(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        title = _parse_title(d.pop("title", UNSET))

        def _parse_webhook_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        webhook_url = _parse_webhook_url(d.pop("webhookUrl", UNSET))

        job_payload = cls(
            aspect_ratio=aspect_ratio,
            count=count,
            generation_id=generation_id,
            generation_status=generation_status,
            inspiration_ids=inspiration_ids,
            model=model,
            org_id=org_id,
            person_ids=person_ids,
            prompt=prompt,
            provider=provider,
            reference_urls=reference_urls,
            variation=variation,
            style=style,
            title=title,
            webhook_url=webhook_url,
        )

        job_payload.additional_properties = d
        return job_payload

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

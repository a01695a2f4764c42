from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.generate_body import GenerateBody
from ...models.generate_response import GenerateResponse
from ...models.generation_body import GenerationBody
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: GenerateBody,
    idempotency_key: None | str | Unset = UNSET,
    prefer: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    if not isinstance(prefer, Unset):
        headers["Prefer"] = prefer

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/generate",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> GenerateResponse | GenerationBody | Problem | None:
    if response.status_code == 200:
        response_200 = GenerationBody.from_dict(response.json())

        return response_200

    if response.status_code == 202:
        response_202 = GenerateResponse.from_dict(response.json())

        return response_202

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 402:
        response_402 = Problem.from_dict(response.json())

        return response_402

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = Problem.from_dict(response.json())

        return response_415

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = Problem.from_dict(response.json())

        return response_429

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[GenerateResponse | GenerationBody | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: GenerateBody,
    idempotency_key: None | str | Unset = UNSET,
    prefer: None | str | Unset = UNSET,
) -> Response[GenerateResponse | GenerationBody | Problem]:
    """Generate thumbnails (FatThumb)

    Args:
        idempotency_key (None | str | Unset):
        prefer (None | str | Unset):
        body (GenerateBody): The documented camelCase body. Unknown fields are ignored, as
            FatThumb
            clients may send more than this server reads.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[GenerateResponse | GenerationBody | Problem]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
        prefer=prefer,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: GenerateBody,
    idempotency_key: None | str | Unset = UNSET,
    prefer: None | str | Unset = UNSET,
) -> GenerateResponse | GenerationBody | Problem | None:
    """Generate thumbnails (FatThumb)

    Args:
        idempotency_key (None | str | Unset):
        prefer (None | str | Unset):
        body (GenerateBody): The documented camelCase body. Unknown fields are ignored, as
            FatThumb
            clients may send more than this server reads.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        GenerateResponse | GenerationBody | Problem
    """

    return sync_detailed(
        client=client,
        body=body,
        idempotency_key=idempotency_key,
        prefer=prefer,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: GenerateBody,
    idempotency_key: None | str | Unset = UNSET,
    prefer: None | str | Unset = UNSET,
) -> Response[GenerateResponse | GenerationBody | Problem]:
    """Generate thumbnails (FatThumb)

    Args:
        idempotency_key (None | str | Unset):
        prefer (None | str | Unset):
        body (GenerateBody): The documented camelCase body. Unknown fields are ignored, as
            FatThumb
            clients may send more than this server reads.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[GenerateResponse | GenerationBody | Problem]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
        prefer=prefer,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: GenerateBody,
    idempotency_key: None | str | Unset = UNSET,
    prefer: None | str | Unset = UNSET,
) -> GenerateResponse | GenerationBody | Problem | None:
    """Generate thumbnails (FatThumb)

    Args:
        idempotency_key (None | str | Unset):
        prefer (None | str | Unset):
        body (GenerateBody): The documented camelCase body. Unknown fields are ignored, as
            FatThumb
            clients may send more than this server reads.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        GenerateResponse | GenerationBody | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            idempotency_key=idempotency_key,
            prefer=prefer,
        )
    ).parsed

from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.flokan_error_body import FlokanErrorBody
from ...models.flokan_generate_body import FlokanGenerateBody
from ...types import Response


def _get_kwargs(
    *,
    body: FlokanGenerateBody,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/thumbnail-generator/generate",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Any | FlokanErrorBody | None:
    if response.status_code == 201:
        response_201 = response.json()
        return response_201

    if response.status_code == 400:
        response_400 = FlokanErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = FlokanErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 402:
        response_402 = FlokanErrorBody.from_dict(response.json())

        return response_402

    if response.status_code == 403:
        response_403 = FlokanErrorBody.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = FlokanErrorBody.from_dict(response.json())

        return response_404

    if response.status_code == 422:
        response_422 = FlokanErrorBody.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = FlokanErrorBody.from_dict(response.json())

        return response_429

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Any | FlokanErrorBody]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: FlokanGenerateBody,
) -> Response[Any | FlokanErrorBody]:
    """Generate thumbnails synchronously (Flokan)

    Args:
        body (FlokanGenerateBody): `POST /generate`'s documented body.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | FlokanErrorBody]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: FlokanGenerateBody,
) -> Any | FlokanErrorBody | None:
    """Generate thumbnails synchronously (Flokan)

    Args:
        body (FlokanGenerateBody): `POST /generate`'s documented body.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | FlokanErrorBody
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: FlokanGenerateBody,
) -> Response[Any | FlokanErrorBody]:
    """Generate thumbnails synchronously (Flokan)

    Args:
        body (FlokanGenerateBody): `POST /generate`'s documented body.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | FlokanErrorBody]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: FlokanGenerateBody,
) -> Any | FlokanErrorBody | None:
    """Generate thumbnails synchronously (Flokan)

    Args:
        body (FlokanGenerateBody): `POST /generate`'s documented body.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | FlokanErrorBody
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed

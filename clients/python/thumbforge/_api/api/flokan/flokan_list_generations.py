from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.flokan_error_body import FlokanErrorBody
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    page: int | Unset = UNSET,
    per_page: int | Unset = UNSET,
    status: str | Unset = UNSET,
    card_id: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["page"] = page

    params["per_page"] = per_page

    params["status"] = status

    params["card_id"] = card_id

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/thumbnail-generator/generations",
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Any | FlokanErrorBody | None:
    if response.status_code == 200:
        response_200 = response.json()
        return response_200

    if response.status_code == 400:
        response_400 = FlokanErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = FlokanErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = FlokanErrorBody.from_dict(response.json())

        return response_403

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
    page: int | Unset = UNSET,
    per_page: int | Unset = UNSET,
    status: str | Unset = UNSET,
    card_id: str | Unset = UNSET,
) -> Response[Any | FlokanErrorBody]:
    """List generations (Flokan)

    Args:
        page (int | Unset):
        per_page (int | Unset):
        status (str | Unset):
        card_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | FlokanErrorBody]
    """

    kwargs = _get_kwargs(
        page=page,
        per_page=per_page,
        status=status,
        card_id=card_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    page: int | Unset = UNSET,
    per_page: int | Unset = UNSET,
    status: str | Unset = UNSET,
    card_id: str | Unset = UNSET,
) -> Any | FlokanErrorBody | None:
    """List generations (Flokan)

    Args:
        page (int | Unset):
        per_page (int | Unset):
        status (str | Unset):
        card_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | FlokanErrorBody
    """

    return sync_detailed(
        client=client,
        page=page,
        per_page=per_page,
        status=status,
        card_id=card_id,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    page: int | Unset = UNSET,
    per_page: int | Unset = UNSET,
    status: str | Unset = UNSET,
    card_id: str | Unset = UNSET,
) -> Response[Any | FlokanErrorBody]:
    """List generations (Flokan)

    Args:
        page (int | Unset):
        per_page (int | Unset):
        status (str | Unset):
        card_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | FlokanErrorBody]
    """

    kwargs = _get_kwargs(
        page=page,
        per_page=per_page,
        status=status,
        card_id=card_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    page: int | Unset = UNSET,
    per_page: int | Unset = UNSET,
    status: str | Unset = UNSET,
    card_id: str | Unset = UNSET,
) -> Any | FlokanErrorBody | None:
    """List generations (Flokan)

    Args:
        page (int | Unset):
        per_page (int | Unset):
        status (str | Unset):
        card_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | FlokanErrorBody
    """

    return (
        await asyncio_detailed(
            client=client,
            page=page,
            per_page=per_page,
            status=status,
            card_id=card_id,
        )
    ).parsed

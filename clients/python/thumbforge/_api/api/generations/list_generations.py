from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.generation_list import GenerationList
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    status: str | Unset = UNSET,
    model: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
    created_after: int | Unset = UNSET,
    created_before: int | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["status"] = status

    params["model"] = model

    params["limit"] = limit

    params["cursor"] = cursor

    params["createdAfter"] = created_after

    params["createdBefore"] = created_before

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/generations",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> GenerationList | Problem | None:
    if response.status_code == 200:
        response_200 = GenerationList.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = Problem.from_dict(response.json())

        return response_429

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[GenerationList | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    status: str | Unset = UNSET,
    model: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
    created_after: int | Unset = UNSET,
    created_before: int | Unset = UNSET,
) -> Response[GenerationList | Problem]:
    """List generations

    Args:
        status (str | Unset):
        model (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):
        created_after (int | Unset):
        created_before (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[GenerationList | Problem]
    """

    kwargs = _get_kwargs(
        status=status,
        model=model,
        limit=limit,
        cursor=cursor,
        created_after=created_after,
        created_before=created_before,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    status: str | Unset = UNSET,
    model: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
    created_after: int | Unset = UNSET,
    created_before: int | Unset = UNSET,
) -> GenerationList | Problem | None:
    """List generations

    Args:
        status (str | Unset):
        model (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):
        created_after (int | Unset):
        created_before (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        GenerationList | Problem
    """

    return sync_detailed(
        client=client,
        status=status,
        model=model,
        limit=limit,
        cursor=cursor,
        created_after=created_after,
        created_before=created_before,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    status: str | Unset = UNSET,
    model: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
    created_after: int | Unset = UNSET,
    created_before: int | Unset = UNSET,
) -> Response[GenerationList | Problem]:
    """List generations

    Args:
        status (str | Unset):
        model (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):
        created_after (int | Unset):
        created_before (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[GenerationList | Problem]
    """

    kwargs = _get_kwargs(
        status=status,
        model=model,
        limit=limit,
        cursor=cursor,
        created_after=created_after,
        created_before=created_before,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    status: str | Unset = UNSET,
    model: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
    created_after: int | Unset = UNSET,
    created_before: int | Unset = UNSET,
) -> GenerationList | Problem | None:
    """List generations

    Args:
        status (str | Unset):
        model (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):
        created_after (int | Unset):
        created_before (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        GenerationList | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            status=status,
            model=model,
            limit=limit,
            cursor=cursor,
            created_after=created_after,
            created_before=created_before,
        )
    ).parsed

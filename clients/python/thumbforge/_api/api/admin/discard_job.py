from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.job_action import JobAction
from ...models.problem import Problem
from ...types import Response


def _get_kwargs(
    thumbnail_id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/admin/jobs/{thumbnail_id}/discard".format(
            thumbnail_id=quote(str(thumbnail_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> JobAction | Problem | None:
    if response.status_code == 200:
        response_200 = JobAction.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[JobAction | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    thumbnail_id: str,
    *,
    client: AuthenticatedClient,
) -> Response[JobAction | Problem]:
    """Discard a job

     A dead (failed) thumbnail is dismissed from the dead list and stays failed. A processing one fails
    now with "Discarded by an operator.", which ends and refunds its generation like any failure.

    Args:
        thumbnail_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[JobAction | Problem]
    """

    kwargs = _get_kwargs(
        thumbnail_id=thumbnail_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    thumbnail_id: str,
    *,
    client: AuthenticatedClient,
) -> JobAction | Problem | None:
    """Discard a job

     A dead (failed) thumbnail is dismissed from the dead list and stays failed. A processing one fails
    now with "Discarded by an operator.", which ends and refunds its generation like any failure.

    Args:
        thumbnail_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        JobAction | Problem
    """

    return sync_detailed(
        thumbnail_id=thumbnail_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    thumbnail_id: str,
    *,
    client: AuthenticatedClient,
) -> Response[JobAction | Problem]:
    """Discard a job

     A dead (failed) thumbnail is dismissed from the dead list and stays failed. A processing one fails
    now with "Discarded by an operator.", which ends and refunds its generation like any failure.

    Args:
        thumbnail_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[JobAction | Problem]
    """

    kwargs = _get_kwargs(
        thumbnail_id=thumbnail_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    thumbnail_id: str,
    *,
    client: AuthenticatedClient,
) -> JobAction | Problem | None:
    """Discard a job

     A dead (failed) thumbnail is dismissed from the dead list and stays failed. A processing one fails
    now with "Discarded by an operator.", which ends and refunds its generation like any failure.

    Args:
        thumbnail_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        JobAction | Problem
    """

    return (
        await asyncio_detailed(
            thumbnail_id=thumbnail_id,
            client=client,
        )
    ).parsed

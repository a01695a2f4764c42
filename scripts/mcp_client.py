"""Drives thumbforge's MCP endpoint with the official Python MCP SDK
(`mcp` on PyPI), as an agent would: list the tools without a key, then,
with a key, generate a thumbnail and poll it until it ends.

Usage: mcp_client.py URL API_KEY. Prints one JSON object with what it saw;
exits non-zero on any protocol error. The integration suite runs it
(`mcp::*`)."""

import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client


def structured(result):
    """The tool result's structured content (SDK 1.x and 2.x spell it differently)."""
    if getattr(result, "is_error", getattr(result, "isError", False)):
        raise RuntimeError(f"tool call failed: {result}")
    content = getattr(result, "structured_content", getattr(result, "structuredContent", None))
    if content is None:
        raise RuntimeError(f"tool call returned no structured content: {result}")
    return content


async def session_call(url, headers, action):
    async with create_mcp_http_client(headers=headers) as http:
        async with streamable_http_client(url, http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await action(session)


async def main(url, key):
    report = {}

    async def list_tools(session):
        tools = await session.list_tools()
        return sorted(t.name for t in tools.tools)

    report["tools"] = await session_call(url, {}, list_tools)

    async def call_without_key(session):
        try:
            result = await session.call_tool("get_generation", {"generationId": "gen_x"})
            return {"is_error": getattr(result, "is_error", getattr(result, "isError", None))}
        except Exception as e:  # the server answers a JSON-RPC error
            return {"error": str(e)}

    report["without_key"] = await session_call(url, {}, call_without_key)

    async def generate_and_poll(session):
        started = await session.call_tool(
            "generate_thumbnail", {"prompt": "MCP made this", "count": 2}
        )
        started = structured(started)
        generation_id = started["generationId"]
        for _ in range(600):
            got = await session.call_tool("get_generation", {"generationId": generation_id})
            body = structured(got)
            if body["status"] in ("succeeded", "failed", "partial"):
                return {"started": started, "finished": body}
            await asyncio.sleep(0.1)
        raise RuntimeError("generation did not finish")

    report["run"] = await session_call(
        url, {"Authorization": f"Bearer {key}"}, generate_and_poll
    )
    print(json.dumps(report))


asyncio.run(main(sys.argv[1], sys.argv[2]))

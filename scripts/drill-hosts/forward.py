"""The provider host's front door (scripts/drill-hosts.sh).

thumbforge-mock-provider listens on loopback only, so the provider host
runs this beside it: a TCP forwarder from the host's address to the mock,
which also counts the image calls (`POST /v1/images/generations`) each
source address makes, with the time of its last one. `GET /` on the stats
port answers those counts as JSON: {"10.77.0.21": {"calls": 12, "last": …}}.

    python3 forward.py --listen 10.77.0.3:8000 --to 127.0.0.1:8001 --stats 10.77.0.3:8002
"""

import argparse
import asyncio
import json
import time

CALL = b"POST /v1/images/generations"
calls: dict[str, dict[str, float]] = {}


def address(text: str) -> tuple[str, int]:
    host, port = text.rsplit(":", 1)
    return host, int(port)


async def pipe(reader, writer, source=None):
    try:
        while data := await reader.read(65536):
            if source is not None and (n := data.count(CALL)):
                entry = calls.setdefault(source, {"calls": 0, "last": 0.0})
                entry["calls"] += n
                entry["last"] = time.time()
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", type=address, required=True)
    parser.add_argument("--to", type=address, required=True)
    parser.add_argument("--stats", type=address, required=True)
    args = parser.parse_args()

    async def forward(client_reader, client_writer):
        source = client_writer.get_extra_info("peername")[0]
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*args.to)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            pipe(client_reader, upstream_writer, source),
            pipe(upstream_reader, client_writer),
        )

    async def stats(reader, writer):
        try:
            await reader.readuntil(b"\r\n\r\n")
            body = json.dumps(calls).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
            )
            await writer.drain()
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    front = await asyncio.start_server(forward, *args.listen, backlog=1024)
    side = await asyncio.start_server(stats, *args.stats)
    print(f"forwarding {args.listen} to {args.to}; counts on {args.stats}", flush=True)
    async with front, side:
        await asyncio.gather(front.serve_forever(), side.serve_forever())


if __name__ == "__main__":
    asyncio.run(main())

"""Baseline servers the benchmarks measure Switchboard against, each in its own process.

    baselines.py ws-echo PORT          a bare `websockets` server echoing every frame
    baselines.py nats-echo URL SUBJECT a bare nats-py responder answering every request with it
    baselines.py ws-hold PORT          a bare `websockets` server holding connections open
    baselines.py ws-clients URL N [deflate]   N idle client sockets to URL (prints "ready" once
                                              open), offering permessage-deflate as browsers do

Each prints "ready" once it listens, then serves until killed.
"""

import asyncio
import sys

import nats
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve


async def echo(ws: ServerConnection) -> None:
    async for frame in ws:
        await ws.send(frame)


async def hold(ws: ServerConnection) -> None:
    await ws.wait_closed()


async def ws_server(port: int, handler: object) -> None:
    # compression off and no pings: the same settings the gateway's sockets use on the wire
    async with serve(
        handler, "127.0.0.1", port, compression=None, ping_interval=None, backlog=4096
    ):  # type: ignore[arg-type]
        print("ready", flush=True)
        await asyncio.Future()


async def nats_echo(url: str, subject: str) -> None:
    nc = await nats.connect(url)

    async def answer(msg: nats.aio.msg.Msg) -> None:
        await msg.respond(msg.data)

    await nc.subscribe(subject, cb=answer)
    await nc.flush()
    print("ready", flush=True)
    await asyncio.Future()


async def ws_clients(url: str, count: int, offer: str = "none") -> None:
    """Open `count` sockets (200 at a time), say "ready", hold them until stdin closes; with
    `offer` "deflate" they offer permessage-deflate, as every browser does."""
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    gate = asyncio.Semaphore(200)
    opened: list[object] = []

    async def one() -> None:
        async with gate:
            opened.append(
                await connect(
                    url,
                    ping_interval=None,
                    compression="deflate" if offer == "deflate" else None,
                    open_timeout=120,
                )
            )

    await asyncio.gather(*(one() for _ in range(count)))
    print("ready", len(opened), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def main() -> None:
    kind, *args = sys.argv[1:]
    if kind == "ws-echo":
        asyncio.run(ws_server(int(args[0]), echo))
    elif kind == "ws-hold":
        asyncio.run(ws_server(int(args[0]), hold))
    elif kind == "ws-clients":
        asyncio.run(ws_clients(args[0], int(args[1]), *args[2:3]))
    elif kind == "nats-echo":
        asyncio.run(nats_echo(args[0], args[1]))
    else:
        raise SystemExit(f"unknown baseline {kind}")


if __name__ == "__main__":
    main()

"""Reply fan-out: what a gateway pays for the replies of sessions held by *other* gateways.

Each gateway routes replies through one wildcard subscription (`chat.reply.*.*`), so with N
gateway replicas every reply reaches all N, and N - 1 of them drop it after a dict lookup. This
measures that cost: an embedded NATS, one gateway Bridge in this process following `--followed`
sessions (its own sockets), and a publisher process sending `--replies` answers of sessions no
socket here follows. The CPU time this process spent receiving them, per reply, is the price
each extra replica adds to every reply; the same run also times replies that *are* delivered.

    .venv/bin/python bench/reply_fanout.py [--replies 100000] [--followed 5000]
"""

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from uuid import uuid4

from services.gateway.bus.bridge import Bridge
from shared.broker import make_broker
from shared.contracts import ChatReply, TurnAnswered
from shared.devstack.embedded import EmbeddedNats, free_port

PUBLISHER = """
import asyncio, sys
import nats

async def main(url, count, project, prefix, sessions, body):
    nc = await nats.connect(url)
    for n in range(count):
        await nc.publish(f"chat.reply.{project}.{prefix}{n % sessions}", body)
        if n % 1000 == 0:
            await nc.flush()
    await nc.publish(f"chat.reply.{project}.mine0", body)  # followed: the end of the run
    await nc.flush()
    await nc.close()

args = sys.argv[1:]
asyncio.run(main(args[0], int(args[1]), args[2], args[3], int(args[4]), sys.stdin.buffer.read()))
"""


async def run(url: str, replies: int, followed: int) -> dict[str, float]:
    broker = make_broker(url, name="fanout-bench")
    await broker.connect()
    bridge = Bridge(broker, request_timeout_s=5.0, partitions=8)  # no turns sent
    project = uuid4()
    delivered = [0]
    done = asyncio.Event()
    target = [0]

    async def deliver(_reply: ChatReply) -> None:
        delivered[0] += 1
        if delivered[0] == target[0]:
            done.set()

    for n in range(followed):
        await bridge.follow_replies(project=project, session=f"mine{n}", deliver=deliver)
    body = TurnAnswered.first(
        project_key=project,
        session_id="x",
        turn_event_id=uuid4(),
        text="A typical answer of a chatbot, a sentence or two long, as the dialog sends it.",
        engine="aiml",
        protocol="xparo",
    ).model_dump_json()
    found: dict[str, float] = {}
    for kind, prefix in (("elsewhere", "other"), ("here", "mine")):
        done.clear()
        target[0] = delivered[0] + (replies if kind == "here" else 0) + 1
        cpu, wall = time.process_time(), time.perf_counter()
        publisher = await asyncio.create_subprocess_exec(
            *(
                sys.executable,
                "-c",
                PUBLISHER,
                url,
                str(replies),
                project.hex,
                prefix,
                str(followed),
            ),
            stdin=subprocess.PIPE,
        )
        await publisher.communicate(body.encode())
        await asyncio.wait_for(done.wait(), 300)  # one subscription: in order, so all are in
        found[f"{kind}_cpu_us_per_reply"] = (time.process_time() - cpu) / replies * 1e6
        found[f"{kind}_wall_s"] = time.perf_counter() - wall
    await broker.stop()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--replies", type=int, default=100_000)
    parser.add_argument("--followed", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        nats = EmbeddedNats(store_dir=Path(tmp) / "nats", port=free_port())
        url = nats.start(Path(tmp) / "nats.log")
        try:
            found = asyncio.run(run(url, args.replies, args.followed))
        finally:
            nats.stop()
    print(f"\nreply fan-out: {args.replies:,} replies, {args.followed:,} sessions followed here")
    for key, value in found.items():
        print(f"{key:<32}{value:>10.2f}")


if __name__ == "__main__":
    main()

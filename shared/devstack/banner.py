"""What `make run` prints once everything is ready: where to connect, and how to sign in."""

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from .settings import Replica


@dataclass(frozen=True)
class Demo:
    """What the banner shows about the demo project."""

    key: UUID
    secret: str


def _gateway_lines(gateways: list[Replica]) -> str:
    """One line per gateway replica (only when there are several)."""
    if len(gateways) < 2:
        return ""
    lines = [
        f"http://127.0.0.1:{g.port}/  BESSER ws://127.0.0.1:{g.env['GATEWAY_BESSER_PORT']}/"
        f"  ({g.name})"
        for g in gateways
    ]
    head = "  Gateways             "
    rest = "\n".join("                       " + line for line in lines[1:])
    return (
        f"{head}{lines[0]}\n{rest}\n"
        "                       every gateway serves every URL below (shown for the first)\n"
    )


def banner(
    gateways: list[Replica],
    demo: Demo,
    data: Path,
    started: float,
    *,
    nats: str = "",
) -> None:
    """Print the ready banner: the demo project, every gateway, the URLs of each protocol."""
    port, besser = gateways[0].port, gateways[0].env["GATEWAY_BESSER_PORT"]
    url = f"ws://127.0.0.1:{port}/chatbot_api/{demo.secret}/{demo.key}/"
    nats_line = f"  NATS                 {nats}\n" if nats else ""
    print(
        f"""
Switchboard is ready ({time.monotonic() - started:.1f} s).

  Demo project key     {demo.key}
  Demo project secret  {demo.secret}
{_gateway_lines(gateways)}{nats_line}  XPARO WebSocket URL  {url}
  XPARO typed API URL  ws://127.0.0.1:{port}/ws/chatbot/{demo.secret}/{demo.key}/?robot_id=robot_1
  AIDA (phoenix.js)    new Socket("ws://127.0.0.1:{port}/socket"), topic bot:{demo.key},
                       access_token = the secret; images at http://127.0.0.1:{port}/content
  RSVP.ai chat API     http://127.0.0.1:{port}/sandbox/chat?botid={demo.key}&token=<secret>&uid=1&q=hi
  BESSER WebSocket     ws://127.0.0.1:{besser}/  (BESSER's own UIs, unchanged)
  Web chat page        http://127.0.0.1:{port}/chat/
  Operator console     http://127.0.0.1:{port}/console/  (sign in with ADMIN_TOKEN, key file)
  Admin API            http://127.0.0.1:{port}/docs  (Bearer token: ADMIN_TOKEN in the key file)
  Key file for scripts {data / "demo-project.env"}
  Logs                 {data / "logs"}/<replica>.log (dialog.log, or dialog-1.log, ... with
                       several replicas), and below, prefixed

Try it:  {sys.executable} -c "import websocket; ws = websocket.create_connection('{url}'); \\
  ws.send('{{\\"ask_bot\\": \\"hi\\"}}'); print(ws.recv())"
Press Ctrl-C to stop everything.
""",
        flush=True,
    )

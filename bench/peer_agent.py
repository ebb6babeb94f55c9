"""The BESSER Agentic Framework peer: an echo agent on BAF's own WebSocket platform.

Runs inside the peer's own virtualenv (bench/peer_besser.py makes it); `say <x>` is answered
with `<x>`, like Switchboard's echo bot, and nothing is said on connect.

    <peer venv>/bin/python bench/peer_agent.py PORT
"""

import sys

from baf.core.agent import Agent  # type: ignore[import-not-found]
from baf.core.session import Session  # type: ignore[import-not-found]
from baf.platforms import websocket  # type: ignore[import-not-found]


def main() -> None:
    agent = Agent("echo_bench")
    agent.set_property(websocket.WEBSOCKET_HOST, "127.0.0.1")
    agent.set_property(websocket.WEBSOCKET_PORT, int(sys.argv[1]))
    agent.use_websocket_platform(use_ui=False)
    idle = agent.new_state("idle", initial=True)
    echo = agent.new_state("echo")

    def nothing(session: Session) -> None:
        return None

    def answer(session: Session) -> None:
        text = session.event.message  # type: ignore[attr-defined]
        session.reply(text[4:] if text.lower().startswith("say ") else text)  # type: ignore[attr-defined]

    idle.set_body(nothing)
    idle.when_no_intent_matched().go_to(echo)
    echo.set_body(answer)
    echo.go_to(idle)
    agent.run(train=True, sleep=True)


if __name__ == "__main__":
    main()

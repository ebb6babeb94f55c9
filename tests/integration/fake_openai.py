"""A small OpenAI-compatible server for tests: a real HTTP server on a free port answering
POST /v1/chat/completions in OpenAI's wire format, and recording what it was asked.

What it answers depends on the last user message: "slow" waits until `release` is set; "fail"
answers HTTP 500; anything else is answered "<model> says: <message>". Requests that carry
numbered passages (a rag request) are answered "Written from [1]." instead.
"""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeModel:
    """What the fake server was asked, and the switch a slow answer waits for."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    asked: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 20.0) -> None:
        """Block until `count` requests have arrived."""
        with self.asked:
            assert self.asked.wait_for(lambda: len(self.requests) >= count, timeout), self.requests


def _answer(model: FakeModel, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    said = str(body["messages"][-1]["content"])
    if "fail" in said:
        return 500, {"error": {"message": "the model broke", "type": "server_error"}}
    if "slow" in said:
        model.release.wait(60)
    text = "Written from [1]." if said.startswith("Passages:") else f"{body['model']} says: {said}"
    return 200, {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": body["model"],
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


@contextmanager
def fake_openai() -> Iterator[FakeModel]:
    """A running fake server (its base URL ends in /v1)."""
    model = FakeModel()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with model.asked:
                model.requests.append(body)
                model.headers.append(dict(self.headers))
                model.asked.notify_all()
            if self.path != "/v1/chat/completions":
                status, answer = 404, {"error": {"message": "not found"}}
            else:
                status, answer = _answer(model, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    model.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield model
    finally:
        model.release.set()
        server.shutdown()
        server.server_close()

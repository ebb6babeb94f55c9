"""A language model behind an OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp's server, a
hosted API): the `llm` engine's answers and the `rag` engine's written answers.

A turn never waits for the model inside its partition's batch. The first time the chain asks
for a turn's answer, the request starts in the background and `Pending` is raised: the dialog
leaves that turn unanswered (early), the rest of the batch is answered and written, and the turn
comes back after a short delay (JetStream redelivery, as for a turn that came early). When it
does, the written answer is taken; if the model failed or took longer than DIALOG_LLM_TIMEOUT_S,
None is taken and the chain goes on without it (the extractive answer, or the fallback). Later
turns of the same session wait behind it, as they wait for any earlier turn.

The endpoint, model and key come from the service's settings (environment) only: the key is
never stored with the content, logged, or returned by any API.
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

log = logging.getLogger(__name__)
DEFAULT_PROMPT = "You are a helpful assistant. Answer briefly."
RAG_PROMPT = (
    "Answer the question using only the numbered passages. Cite the passages you use as [1], "
    "[2], ... If the passages do not answer it, say that the documents do not say."
)
KEPT_S = 300.0  # a written answer nobody came back for is forgotten after this
MAX_ANSWER_CHARS = 8000


class Pending(Exception):
    """The model is still writing this turn's answer: answer the turn again later."""


@dataclass(frozen=True)
class LlmConfig:
    """Where the model is, which one, its key, and how long a turn may wait for it."""

    base_url: str
    model: str
    api_key: SecretStr | None = None
    timeout_s: float = 20.0
    concurrency: int = 8
    history_turns: int = 6


Messages = list[dict[str, str]]


class Writer:
    """The model's answers, started in the background and taken when they are done."""

    def __init__(self, config: LlmConfig | None = None, *, clock: Any = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._tasks: dict[tuple[str, ...], asyncio.Task[str | None]] = {}
        self._done_at: dict[tuple[str, ...], float] = {}
        self._slots: asyncio.Semaphore | None = None
        self._client: httpx.AsyncClient | None = None

    @property
    def enabled(self) -> bool:
        """Whether an endpoint is configured (else the llm engine never answers)."""
        return self.config is not None

    @property
    def model(self) -> str:
        return self.config.model if self.config else ""

    def write(self, key: tuple[str, ...], messages: Messages) -> str | None:
        """The answer to `messages` (None: failed, timed out, or no model), or Pending while
        the model writes it; `key` names the turn (the same key asks for the same answer)."""
        if self.config is None:
            return None
        self._forget_stale()
        task = self._tasks.get(key)
        if task is None:
            self._tasks[key] = task = asyncio.create_task(self._ask(messages))
            task.add_done_callback(lambda _: self._done_at.__setitem__(key, self._clock()))
        if not task.done():
            raise Pending
        del self._tasks[key]
        self._done_at.pop(key, None)
        return task.result()

    def _forget_stale(self) -> None:
        now = self._clock()
        for key, at in list(self._done_at.items()):
            if now - at > KEPT_S:
                self._tasks.pop(key, None)
                del self._done_at[key]

    async def _ask(self, messages: Messages) -> str | None:
        config = self.config
        assert config is not None
        if self._slots is None:
            self._slots = asyncio.Semaphore(config.concurrency)
        try:
            async with asyncio.timeout(config.timeout_s), self._slots:
                return await self._complete(config, messages)
        except TimeoutError:
            log.warning("the model %s did not answer within %s s", config.model, config.timeout_s)
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as err:
            log.warning("the model %s failed: %s", config.model, type(err).__name__)
        return None

    async def _complete(self, config: LlmConfig, messages: Messages) -> str | None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=config.timeout_s)
        headers = {}
        if config.api_key is not None:
            headers["Authorization"] = f"Bearer {config.api_key.get_secret_value()}"
        response = await self._client.post(
            f"{config.base_url.rstrip('/')}/chat/completions",
            json={"model": config.model, "messages": messages},
            headers=headers,
        )
        if response.status_code != 200:
            log.warning("the model %s answered HTTP %s", config.model, response.status_code)
            return None
        content = response.json()["choices"][0]["message"]["content"]
        text = str(content).strip() if content else ""
        return text[:MAX_ANSWER_CHARS] or None

    async def close(self) -> None:
        """Stop what is running and close the connections."""
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None


WRITER = Writer()  # one per process, configured by main from DialogSettings


def fallback_messages(prompt: str | None, recent: list[Any], question: str) -> Messages:
    """The llm engine's request: the project's system prompt, the session's recent turns and
    the question."""
    messages = [{"role": "system", "content": prompt or DEFAULT_PROMPT}]
    for pair in recent:
        if isinstance(pair, list) and len(pair) == 2:
            messages.append({"role": "user", "content": str(pair[0])})
            messages.append({"role": "assistant", "content": str(pair[1])})
    messages.append({"role": "user", "content": question})
    return messages


def rag_messages(question: str, passages: list[tuple[str, str]]) -> Messages:
    """The rag engine's request: the numbered passages (source, text) and the question."""
    numbered = "\n\n".join(
        f"[{n}] ({source})\n{text}" for n, (source, text) in enumerate(passages, 1)
    )
    return [
        {"role": "system", "content": RAG_PROMPT},
        {"role": "user", "content": f"Passages:\n\n{numbered}\n\nQuestion: {question}"},
    ]

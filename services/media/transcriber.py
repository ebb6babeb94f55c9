"""Offline speech recognition: pocketsphinx with the US English model its wheel ships, in worker
processes.

Not in a thread: pocketsphinx holds the GIL while it decodes (measured: the event loop stood
still for the whole utterance), which would stall NATS, health checks and every other request
for seconds. Each worker loads the model once (~100 MB) and decodes whole utterances, which
normalises the audio over all of it (fed in pieces, it normalises on the fly and recognises
less).
"""

import asyncio
import functools
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from pocketsphinx import Decoder  # type: ignore[import-untyped]

from .files import FileRefused, RejectReason
from .voice import RATE

log = logging.getLogger(__name__)


class TranscriptionFailed(FileRefused):
    """The recogniser failed (a worker process died, say); the voice message stays kept."""

    reason: RejectReason = "unsupported"

    def __init__(self) -> None:
        super().__init__("the voice message could not be transcribed, try again")


@functools.cache
def decoder() -> Any:
    """This process's decoder (loading the model takes a fraction of a second)."""
    return Decoder(samprate=RATE, loglevel="FATAL")


def recognise(pcm: bytes) -> str:
    """The words in 16 kHz mono 16-bit PCM, lower case, "" when none. Blocks, and holds the
    GIL throughout: call it in a worker process (or a test)."""
    found = decoder()
    found.start_utt()
    found.process_raw(pcm, full_utt=True)
    found.end_utt()
    hypothesis = found.hyp()
    return "" if hypothesis is None else str(hypothesis.hypstr)


class Transcriber:
    """A pool of `workers` recogniser processes, started on the first voice message."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: the service has threads and a running event loop to not copy.
            spawn = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self._workers, mp_context=spawn, initializer=decoder)
        return self._pool

    async def transcribe(self, pcm: bytes) -> str:
        """The words in 16 kHz mono 16-bit PCM; TranscriptionFailed if the recogniser fails."""
        pool = self._executor()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, recognise, pcm)
        except BrokenProcessPool as err:
            log.error("a recogniser process died; starting new ones: %r", err)
            if self._pool is pool:
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
            raise TranscriptionFailed from err
        except Exception as err:  # pocketsphinx's own errors come back from the worker
            log.exception("transcription failed")
            raise TranscriptionFailed from err

    async def close(self) -> None:
        """Stop the worker processes once they finish what they are doing (queued work is
        dropped)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

"""Offline speech synthesis: espeak-ng (Debian's package, English and Mandarin voices among
its ~100 languages) run as a process per reply, its WAV made into what the service answers,
16 kHz mono 16-bit PCM in a WAV (the same form the recogniser hears).

A process rather than a library binding: espeak-ng's library keeps global state and is not
thread-safe, and a process costs ~10 ms beside the ~100 ms of speaking 20 words. The voice is
chosen by script: text with Chinese characters is said by the Mandarin voice.
"""

import asyncio
import io
import logging
import re
import shutil
import wave

import numpy as np

from .voice import RATE, UnsupportedAudio, speech_pcm

log = logging.getLogger(__name__)
ENGINE = "espeak-ng"
TIMEOUT_S = 20.0
_CHINESE = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_MARKUP = re.compile(r"[*_`#>|\[\]]+|\(https?://[^)]*\)")


class SpeechFailed(Exception):
    """The text could not be said (no espeak-ng, it failed, or nothing to say)."""


def voice_for(text: str, *, english: str, chinese: str) -> str:
    """The voice that says `text`: Mandarin when it has Chinese characters."""
    return chinese if _CHINESE.search(text) else english


def speakable(text: str) -> str:
    """`text` without the Markdown marks and link targets a voice would spell out."""
    return " ".join(_MARKUP.sub(" ", text).split())


def wav_of(pcm: bytes) -> bytes:
    """16 kHz mono 16-bit PCM as a WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(pcm)
    return out.getvalue()


def float32_of(wav: bytes) -> tuple[bytes, int]:
    """The samples of a 16-bit mono WAV as little-endian float32 in -1..1 (what BESSER's
    agent_reply_audio carries), and its sample rate."""
    with wave.open(io.BytesIO(wav), "rb") as read:
        rate, frames = read.getframerate(), read.readframes(read.getnframes())
    samples = np.frombuffer(frames, dtype="<i2").astype("<f4") / np.float32(32768.0)
    return samples.tobytes(), rate


async def synthesise(text: str, *, voice: str, words_per_minute: int, max_seconds: float) -> bytes:
    """`text` said by espeak-ng's `voice`, as a 16 kHz mono WAV of at most `max_seconds`."""
    said = speakable(text)
    if not said:
        raise SpeechFailed("there is nothing to say")
    engine = shutil.which(ENGINE)
    if engine is None:
        raise SpeechFailed("espeak-ng is not installed (apt-get install espeak-ng)")
    process = await asyncio.create_subprocess_exec(
        engine,
        "-v",
        voice,
        "-s",
        str(words_per_minute),
        "--stdout",
        "--",
        said,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT_S)
    except TimeoutError as timeout:
        process.kill()
        await process.wait()
        raise SpeechFailed("espeak-ng took too long") from timeout
    if process.returncode != 0:
        log.error("espeak-ng failed (%s): %s", process.returncode, err.decode(errors="replace"))
        raise SpeechFailed("espeak-ng failed")
    try:
        speech = await asyncio.to_thread(speech_pcm, out, max_seconds=float("inf"))
    except UnsupportedAudio as bad:
        raise SpeechFailed(f"espeak-ng wrote no usable WAV: {bad}") from bad
    return wav_of(speech.pcm[: int(max_seconds * RATE) * 2])

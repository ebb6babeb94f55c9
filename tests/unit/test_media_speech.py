"""Spoken replies: espeak-ng says a 20-word reply (bench/engines.py times it), pocketsphinx
hears back most of its words, Chinese text is said by the Mandarin voice, and what cannot be said is
refused with a reason."""

import asyncio

import numpy as np
import pytest

from services.media.speech import SpeechFailed, float32_of, speakable, synthesise, voice_for
from services.media.transcriber import recognise
from services.media.voice import RATE, speech_pcm

pytestmark = pytest.mark.unit

REPLY = (
    "The museum opens at nine in the morning and the car park closes at midnight every day "
    "of the week"
)


def say(text: str, voice: str = "en-us+f5") -> bytes:
    return asyncio.run(synthesise(text, voice=voice, words_per_minute=140, max_seconds=30))


def test_a_twenty_word_reply_is_said_and_heard_back() -> None:
    """A 20-word reply is said in a few seconds of speech; the recogniser hears most of its
    distinct words."""
    assert len(REPLY.split()) == 20
    wav = say(REPLY)
    pcm = speech_pcm(wav, max_seconds=60)
    assert 3.0 < pcm.seconds < 10.0
    heard = set(recognise(pcm.pcm).split())
    words = set(REPLY.lower().split())
    assert len(words & heard) / len(words) >= 0.5, heard


def test_chinese_is_said_by_the_mandarin_voice() -> None:
    """Text with Chinese characters picks the Chinese voice, and comes out as audio."""
    assert voice_for("博物馆九点开门", english="en-us+f5", chinese="cmn") == "cmn"
    assert voice_for("Opens at nine", english="en-us+f5", chinese="cmn") == "en-us+f5"
    samples, rate = float32_of(say("博物馆早上九点开门", voice="cmn"))
    assert rate == RATE and len(samples) // 4 > RATE  # over a second of speech
    assert np.abs(np.frombuffer(samples, dtype="<f4")).max() > 0.05


def test_markdown_marks_and_links_are_not_spelled_out() -> None:
    """What a voice would read letter by letter is left out."""
    assert speakable("**Paris**: see [the map](https://x.example/m) `now`") == (
        "Paris : see the map now"
    )


def test_speech_is_cut_at_the_limit() -> None:
    """A long text stops at max_seconds (the WAV fits one NATS message)."""
    wav = asyncio.run(synthesise(REPLY * 3, voice="en-us", words_per_minute=140, max_seconds=2))
    assert speech_pcm(wav, max_seconds=60).seconds == pytest.approx(2.0, abs=0.01)


def test_nothing_to_say_or_no_engine_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Markup alone is nothing to say; without espeak-ng the refusal says how to install it."""
    with pytest.raises(SpeechFailed, match="nothing to say"):
        say("** __ `")
    monkeypatch.setattr("shutil.which", lambda _: None)
    with pytest.raises(SpeechFailed, match="apt-get install espeak-ng"):
        say("hello")

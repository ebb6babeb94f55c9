"""Files and voice in the media service, pure parts: a file's type comes from its bytes (the
declared type counts only for UTF-8 text), names lose their directories, a WAV of any rate,
width and channel count becomes 16 kHz mono PCM, and the recogniser hears the fixture."""

import hashlib
import io
import math
import struct
import wave
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import numpy as np
import pytest
from PIL import Image

from services.media.domain import MediaError
from services.media.files import (
    OCTET_STREAM,
    FileTooLarge,
    MediaIdTaken,
    StagedFileMissing,
    UnsupportedFile,
    check_file_size,
    clean_name,
    content_type,
    declared_text_type,
    file_facts,
    file_info,
    same_owner,
)
from services.media.transcriber import TranscriptionFailed, recognise
from services.media.voice import (
    RATE,
    Speech,
    UnsupportedAudio,
    VoiceTooLong,
    resample,
    speech_pcm,
)
from shared.contracts import FileRejected, StoreFile, TranscribeVoice

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).parent.parent / "fixtures" / "voice" / "weather.wav"
NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out, "PNG")
    return out.getvalue()


def wav(
    samples: np.ndarray, *, rate: int, width: int = 2, channels: int = 1, tag: int = 1
) -> bytes:
    """A WAV file of `samples` (frames x channels, already in the sample format), with the
    format tag `tag` (1 PCM, 3 float, 0xFFFE extensible naming PCM)."""
    data = samples.tobytes()
    if tag == 1:
        out = io.BytesIO()
        with wave.open(out, "wb") as file:
            file.setnchannels(channels)
            file.setsampwidth(width)
            file.setframerate(rate)
            file.writeframes(data)
        return out.getvalue()
    block = channels * width
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, width * 8)
    if tag == 0xFFFE:  # cbSize, valid bits, channel mask, KSDATAFORMAT_SUBTYPE_PCM
        guid = bytes.fromhex("0100000000001000800000aa00389b71")
        fmt += struct.pack("<HHI", 22, width * 8, 0) + guid
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data"
    chunks += struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def fixture_samples() -> tuple[np.ndarray, int]:
    """The fixture's samples (16-bit) and rate."""
    with wave.open(str(FIXTURE), "rb") as file:
        rate = file.getframerate()
        return np.frombuffer(file.readframes(file.getnframes()), dtype="<i2"), rate


def pcm_array(speech: Speech) -> np.ndarray:
    return np.frombuffer(speech.pcm, dtype="<i2").astype(np.float64)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two signals of (almost) the same length."""
    n = min(len(a), len(b))
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


def tone(freq: float, *, rate: int, seconds: float = 0.5, amplitude: float = 10_000) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return amplitude * np.sin(2 * math.pi * freq * t)


def unsupported(data: bytes, *, max_seconds: float = 60) -> str:
    with pytest.raises(UnsupportedAudio) as err:
        speech_pcm(data, max_seconds=max_seconds)
    assert err.value.rejection().reason == "unsupported"
    return err.value.message


# -- file types


@pytest.mark.parametrize("declared", ["text/plain", "application/pdf", "", "image/png"])
def test_a_pdf_is_a_pdf_whatever_was_declared(declared: str) -> None:
    """The PDF signature decides; the declared type plays no part."""
    assert content_type(PDF, declared=declared) == "application/pdf"


def test_known_signatures_win_and_get_their_registered_names() -> None:
    """A PNG declared as text is image/png; a WAV is audio/wav (not filetype's audio/x-wav)."""
    assert content_type(png(), declared="text/plain") == "image/png"
    assert content_type(FIXTURE.read_bytes(), declared="") == "audio/wav"


@pytest.mark.parametrize(
    ("declared", "kept"),
    [
        ("text/plain", "text/plain"),
        ("text/csv; charset=utf-8", "text/csv"),
        ("Text/Markdown", "text/markdown"),
        ("application/json", "application/json"),
        ("application/csv", "application/csv"),
        ("application/vnd.api+json", "application/vnd.api+json"),
        ("application/x-yaml", "application/x-yaml"),
    ],
)
def test_utf8_text_keeps_its_declared_text_type(declared: str, kept: str) -> None:
    """Bytes with no signature that decode as UTF-8 keep a declared text type, bare and lower
    case."""
    assert content_type("héllo, wörld\n".encode(), declared=declared) == kept


@pytest.mark.parametrize(
    "declared", ["image/png", "application/pdf", "", "text", "text/<script>", "text/plain/x"]
)
def test_text_declared_as_no_text_type_is_octet_stream(declared: str) -> None:
    """Unrecognised bytes declared as a binary type (or as no MIME type) are octet-stream."""
    assert content_type(b"just some words", declared=declared) == OCTET_STREAM


def test_bytes_that_are_no_utf8_are_octet_stream_even_declared_as_text() -> None:
    """Latin-1 or random bytes declared text/plain are not believed."""
    assert content_type("café".encode("latin-1"), declared="text/plain") == OCTET_STREAM
    assert content_type(bytes(range(256)), declared="text/plain") == OCTET_STREAM


def test_declared_text_types_are_recognised() -> None:
    """text/*, the listed application types and +json/+xml count as text; others do not."""
    assert declared_text_type("text/html; charset=utf-8") == "text/html"
    assert declared_text_type("image/svg+xml") == "image/svg+xml"
    assert declared_text_type("application/octet-stream") is None
    assert declared_text_type("x" * 300 + "/plain") is None


def test_file_facts_are_the_type_size_and_digest() -> None:
    """Size and SHA-256 are of the bytes as staged."""
    facts = file_facts(PDF, declared="text/plain")
    assert facts == ("application/pdf", len(PDF), hashlib.sha256(PDF).hexdigest())


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\notes.txt", "notes.txt"),
        ("bad\x00na\x1bme\n.txt", "badname.txt"),
        ("  spaced.txt  ", "spaced.txt"),
        ("dir/", ""),
    ],
)
def test_names_lose_directories_and_control_characters(given: str, kept: str) -> None:
    """Only the last path component stays, printable, trimmed."""
    assert clean_name(given) == kept


def test_names_are_cut_to_255_characters() -> None:
    """A long name fits the contract."""
    assert clean_name("a" * 300 + ".txt") == "a" * 255


def test_file_info_and_ownership() -> None:
    """The metadata carries the command's ids and the cleaned name; a repeat of the command
    owns it, the same id in another session does not."""
    command = StoreFile(
        media_id=uuid4(),
        project_key=uuid4(),
        session_id="s-1",
        filename="x/y.pdf",
        declared_type="text/plain",
        correlation_id=uuid4(),
    )
    info = file_info(command, file_facts(PDF, declared=""), name="x/y.pdf", created_at=NOW)
    assert (info.kind, info.name, info.content_type, info.created_at) == (
        "file",
        "y.pdf",
        "application/pdf",
        NOW,
    )
    assert same_owner(command, info)
    voice = TranscribeVoice(
        media_id=command.media_id,
        project_key=command.project_key,
        session_id="s-2",
        correlation_id=uuid4(),
    )
    assert not same_owner(voice, info)


def test_refusals_explain_themselves() -> None:
    """Each refusal is a MediaError whose answer names its reason."""
    check_file_size(10, 10)
    with pytest.raises(FileTooLarge) as big:
        check_file_size(11, 10)
    assert big.value.rejection() == FileRejected(
        reason="too_large", message="11 bytes, over the 10 bytes allowed"
    )
    media_id = uuid4()
    assert StagedFileMissing(media_id).rejection().reason == "missing"
    taken = MediaIdTaken(media_id)
    assert isinstance(taken, UnsupportedFile)
    assert taken.rejection().reason == "unsupported"
    for err in (big.value, taken, VoiceTooLong(seconds=61, limit=60), TranscriptionFailed()):
        assert isinstance(err, MediaError)


# -- WAV conversion


def test_the_fixture_becomes_16khz_mono_pcm_of_the_same_duration() -> None:
    """espeak-ng's 22050 Hz WAV is resampled to 16 kHz; the duration is the input's."""
    samples, rate = fixture_samples()
    speech = speech_pcm(FIXTURE.read_bytes(), max_seconds=60)
    assert rate == 22050
    assert speech.seconds == pytest.approx(len(samples) / rate)
    assert len(speech.pcm) == 2 * round(len(samples) * RATE / rate)


def test_16khz_mono_16bit_passes_unchanged() -> None:
    """What the recogniser takes already is not touched."""
    pcm = (tone(440, rate=RATE)).astype("<i2")
    assert speech_pcm(wav(pcm, rate=RATE), max_seconds=60).pcm == pcm.tobytes()


def variants() -> dict[str, bytes]:
    """The fixture in other sample formats and channel counts (at its own rate)."""
    samples, rate = fixture_samples()
    wide = samples.astype(np.int32)
    stereo = np.stack([samples, samples // 2], axis=1).astype("<i2")
    packed24 = (wide << 8).astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].copy()
    return {
        "8-bit": wav(((wide >> 8) + 128).astype(np.uint8), rate=rate, width=1),
        "24-bit": wav(packed24, rate=rate, width=3),
        "32-bit": wav((wide << 16).astype("<i4"), rate=rate, width=4),
        "float32": wav((samples / 32768).astype("<f4"), rate=rate, width=4, tag=3),
        "float64": wav((samples / 32768).astype("<f8"), rate=rate, width=8, tag=3),
        "stereo": wav(stereo, rate=rate, channels=2),
        "extensible 24-bit stereo": wav(
            np.repeat(packed24, 2, axis=0), rate=rate, width=3, channels=2, tag=0xFFFE
        ),
    }


@pytest.mark.parametrize("name", list(variants()))
def test_every_pcm_width_float_and_channel_count_gives_the_same_speech(name: str) -> None:
    """8/16/24/32-bit integer, 32/64-bit float, stereo (downmixed) and WAVE_FORMAT_EXTENSIBLE
    all convert to (nearly) the same 16 kHz signal as the 16-bit mono original."""
    reference = pcm_array(speech_pcm(FIXTURE.read_bytes(), max_seconds=60))
    converted = speech_pcm(variants()[name], max_seconds=60)
    assert converted.seconds == pytest.approx(len(reference) / RATE, abs=1e-3)
    assert similarity(pcm_array(converted), reference) > 0.99


@pytest.mark.parametrize("rate", [8000, 11025, 44100, 48000, 96000])
def test_any_rate_is_resampled_to_16khz(rate: int) -> None:
    """A 1 kHz tone stays a 1 kHz tone of the same loudness at 16 kHz."""
    converted = pcm_array(
        speech_pcm(wav(tone(1000, rate=rate).astype("<i2"), rate=rate), max_seconds=60)
    )
    assert len(converted) == pytest.approx(RATE // 2, abs=1)
    spectrum = np.abs(np.fft.rfft(converted))
    assert np.argmax(spectrum) * RATE / len(converted) == pytest.approx(1000, abs=2)
    assert np.sqrt(np.mean(converted[800:-800] ** 2)) == pytest.approx(
        10_000 / math.sqrt(2), rel=0.02
    )


def test_resampling_drops_what_16khz_cannot_hold() -> None:
    """A 10 kHz tone at 44.1 kHz is above 16 kHz's Nyquist frequency: it is removed, not folded
    back to 6 kHz as plain interpolation would."""
    converted = resample(tone(10_000, rate=44_100), 44_100)
    assert len(converted) == RATE // 2
    assert float(np.max(np.abs(converted))) < 100


def test_non_finite_floats_do_not_break_the_conversion() -> None:
    """NaN and infinities in a float WAV become silence and full scale."""
    samples = np.array([0.5, np.nan, np.inf, -np.inf] * 4000, dtype="<f4")
    pcm = pcm_array(speech_pcm(wav(samples, rate=RATE, width=4, tag=3), max_seconds=60))
    assert np.isfinite(pcm).all()


def test_a_truncated_wav_keeps_its_whole_frames() -> None:
    """A file cut mid-frame (an interrupted upload) keeps the frames that are whole."""
    data = wav(np.zeros(1600, dtype="<i2"), rate=RATE)
    assert speech_pcm(data[:-801], max_seconds=60).seconds == pytest.approx(1199 / RATE)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "no RIFF/WAVE header"),
        (b"ID3\x04\x00" + bytes(200), "no RIFF/WAVE header"),
        (png(), "no RIFF/WAVE header"),
        (b"RIFF\x10\x00\x00\x00AVI LIST", "no RIFF/WAVE header"),
        (b"RIFF\x04\x00\x00\x00WAVE", "no fmt chunk"),
        (b"RIFF\x20\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00", "not a readable WAV"),
    ],
    ids=["empty", "mp3", "png", "avi", "no-fmt", "cut-fmt"],
)
def test_what_is_no_wav_is_unsupported(data: bytes, says: str) -> None:
    """Other formats and broken headers are refused as unsupported, saying what is wrong."""
    assert says in unsupported(data)


def test_compressed_wav_is_unsupported() -> None:
    """A WAV of another encoding (here IMA ADPCM, format 0x11) is refused by name."""
    data = bytearray(wav(np.zeros(100, dtype="<i2"), rate=RATE))
    data[20:22] = (0x11).to_bytes(2, "little")
    assert "format 0x0011" in unsupported(bytes(data))


def test_empty_and_oddly_sampled_wavs_are_unsupported() -> None:
    """No frames at all, a rate no speech is recorded at, and 16-bit floats are refused."""
    assert "no audio" in unsupported(wav(np.zeros(0, dtype="<i2"), rate=RATE))
    assert "4000 Hz" in unsupported(wav(np.zeros(400, dtype="<i2"), rate=4000))
    float16 = wav(np.zeros(400, dtype="<f2"), rate=RATE, width=2, tag=3)
    assert "16-bit float" in unsupported(float16)


def test_a_voice_message_over_the_limit_is_too_large() -> None:
    """Past `max_seconds` the message is refused as too_large before it is converted."""
    data = wav(np.zeros(3 * 8000, dtype=np.uint8), rate=8000, width=1)
    assert speech_pcm(data, max_seconds=3).seconds == 3
    with pytest.raises(VoiceTooLong) as err:
        speech_pcm(data, max_seconds=2.5)
    assert err.value.rejection() == FileRejected(
        reason="too_large", message="3.0 s of audio, over the 2.5 s allowed"
    )


# -- recognition (pocketsphinx, offline)


def test_the_fixture_is_heard_with_its_key_word() -> None:
    """pocketsphinx hears "weather" in the committed espeak-ng fixture (see its README)."""
    text = recognise(speech_pcm(FIXTURE.read_bytes(), max_seconds=60).pcm)
    assert "weather" in text.split()


def test_the_fixture_resampled_from_other_formats_is_heard_too() -> None:
    """The 8-bit and the stereo 24-bit extensible variants are heard the same way."""
    for name in ("8-bit", "extensible 24-bit stereo"):
        text = recognise(speech_pcm(variants()[name], max_seconds=60).pcm)
        assert "weather" in text.split(), name

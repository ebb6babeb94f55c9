"""Media's pure logic for voice messages: a WAV of any sample rate, sample format and channel
count made into what the recogniser hears, 16 kHz mono 16-bit little-endian PCM.

Bytes in, bytes out (numpy for the downmix and the resampling; the deprecated `audioop` is not
used). Callers run `speech_pcm` in a thread: it reads every sample.
"""

import io
import wave
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from .files import FileRefused, RejectReason

RATE = 16_000
MIN_RATE, MAX_RATE = 8_000, 192_000
_PCM, _FLOAT, _EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
Samples = NDArray[np.float64]


class UnsupportedAudio(FileRefused):
    """The bytes are no WAV this service reads: another format, another encoding, corrupt,
    empty, or an unusable sample rate."""

    reason: RejectReason = "unsupported"


class VoiceTooLong(FileRefused):
    """The voice message lasts longer than the service transcribes."""

    reason: RejectReason = "too_large"

    def __init__(self, *, seconds: float, limit: float) -> None:
        super().__init__(f"{seconds:.1f} s of audio, over the {limit:g} s allowed")
        self.seconds, self.limit = seconds, limit


class Speech(NamedTuple):
    """A voice message as the recogniser hears it."""

    pcm: bytes
    seconds: float


class _Wav(NamedTuple):
    frames: bytes
    rate: int
    channels: int
    width: int
    is_float: bool


def _format_at(data: bytes) -> int:
    """Offset of the format tag (the fmt chunk's first field) in a RIFF/WAVE file."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise UnsupportedAudio("not a WAV file (no RIFF/WAVE header)")
    pos = 12
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if data[pos : pos + 4] == b"fmt ":
            return pos + 8
        pos += 8 + size + (size & 1)
    raise UnsupportedAudio("not a WAV file (no fmt chunk)")


def _as_pcm(data: bytes) -> tuple[bytes, bool]:
    """`data` relabelled as plain PCM, which is all Python 3.11's `wave` reads, and whether its
    samples are IEEE floats. WAVE_FORMAT_EXTENSIBLE (what many tools write for 24-bit or
    multichannel audio) names its real format in its sub-format GUID's first bytes."""
    at = _format_at(data)
    tag = int.from_bytes(data[at : at + 2], "little")
    if tag == _EXTENSIBLE:
        tag = int.from_bytes(data[at + 24 : at + 26], "little")
    if tag not in (_PCM, _FLOAT):
        raise UnsupportedAudio(f"WAV encoded as format {tag:#06x}, not PCM")
    return data[:at] + _PCM.to_bytes(2, "little") + data[at + 2 :], tag == _FLOAT


def _read(data: bytes) -> _Wav:
    plain, is_float = _as_pcm(data)
    try:
        with wave.open(io.BytesIO(plain), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except Exception as err:  # wave raises several types (Error, EOFError, ...) on bad data
        raise UnsupportedAudio("not a readable WAV file") from err
    if width not in ((4, 8) if is_float else (1, 2, 3, 4)):
        kind = "float" if is_float else "integer"
        raise UnsupportedAudio(f"WAV of {width * 8}-bit {kind} samples")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise UnsupportedAudio(f"WAV sampled at {rate} Hz, not {MIN_RATE}-{MAX_RATE} Hz")
    whole = len(frames) - len(frames) % (channels * width)  # a truncated file ends mid-frame
    if whole == 0:
        raise UnsupportedAudio("the WAV holds no audio")
    return _Wav(frames[:whole], rate, channels, width, is_float)


def _samples(wav: _Wav) -> Samples:
    """The samples, on the scale of 16-bit PCM."""
    raw, width = wav.frames, wav.width
    if wav.is_float:
        floats = np.frombuffer(raw, dtype="<f4" if width == 4 else "<f8").astype(np.float64)
        return np.nan_to_num(floats, posinf=1.0, neginf=-1.0) * 32768.0
    if width == 1:  # 8-bit WAV is unsigned
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) * 256.0
    if width == 3:  # no numpy dtype: widen each sample to 32 bits, low byte zero
        wide = np.zeros((len(raw) // 3, 4), dtype=np.uint8)
        wide[:, 1:] = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        return wide.view("<i4").ravel().astype(np.float64) / 65536.0
    dtype = "<i2" if width == 2 else "<i4"
    return np.frombuffer(raw, dtype=dtype).astype(np.float64) / float(1 << (8 * width - 16))


def resample(samples: Samples, rate: int, to: int = RATE) -> Samples:
    """`samples` at `to` Hz, band-limited: the spectrum is cut (or padded) at the new Nyquist
    frequency, so nothing above it folds back into speech as linear interpolation would."""
    if rate == to or len(samples) == 0:
        return samples
    n = max(1, round(len(samples) * to / rate))
    spectrum = np.fft.rfft(samples)
    kept = np.zeros(n // 2 + 1, dtype=np.complex128)
    common = min(len(kept), len(spectrum))
    kept[:common] = spectrum[:common]
    resampled: Samples = np.fft.irfft(kept, n) * (n / len(samples))
    return resampled


def speech_pcm(data: bytes, *, max_seconds: float) -> Speech:
    """16 kHz mono 16-bit PCM of a WAV file (PCM of 8 to 32 bits or float, any channels, 8 to
    192 kHz) and its duration; UnsupportedAudio for anything else, VoiceTooLong past
    `max_seconds` (checked before any sample is converted)."""
    wav = _read(data)
    seconds = len(wav.frames) / (wav.channels * wav.width) / wav.rate
    if seconds > max_seconds:
        raise VoiceTooLong(seconds=seconds, limit=max_seconds)
    mono = _samples(wav).reshape(-1, wav.channels).mean(axis=1)
    pcm = np.clip(np.rint(resample(mono, wav.rate)), -32768, 32767).astype("<i2")
    return Speech(pcm.tobytes(), seconds)

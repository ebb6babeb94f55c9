"""Media service settings (prefix `MEDIA_`)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .domain import FORMATS, ContentType

MIB = 1024 * 1024


class MediaSettings(BaseSettings):
    """What the media service keeps and transcribes, and how it reports health."""

    model_config = SettingsConfigDict(env_prefix="MEDIA_", extra="ignore")

    port: int = Field(8104, description="Port of /health and /ready")
    max_bytes: int = Field(
        10 * MIB, ge=1, description="Larger uploads are refused (too_large) and deleted"
    )
    allowed_types: list[ContentType] = Field(
        default_factory=lambda: list(FORMATS),
        min_length=1,
        description="Image types kept, as sniffed from the bytes (JSON list)",
    )
    max_pixels: int = Field(
        50_000_000, ge=1, description="Images with more pixels are refused (decompression bombs)"
    )
    decoders: int = Field(
        2, ge=1, description="Images checked at once (each may take 4 bytes per pixel of memory)"
    )
    max_file_bytes: int = Field(
        10 * MIB, ge=1, description="Larger files and voice messages are refused (too_large)"
    )
    max_voice_s: float = Field(
        60.0, gt=0, description="Longer voice messages are refused (too_large)"
    )
    transcribers: int = Field(
        2, ge=1, description="Voice messages transcribed at once (a process of ~100 MB each)"
    )
    speakers: int = Field(2, ge=1, description="Replies synthesised at once (espeak-ng processes)")
    voice_en: str = Field("en-us+f5", description="espeak-ng voice of English (and other) text")
    voice_cn: str = Field("cmn", description="espeak-ng voice of text with Chinese characters")
    words_per_minute: int = Field(140, ge=80, le=450, description="Speed of the spoken replies")
    max_spoken_s: float = Field(
        30.0, gt=0, le=30.0, description="Speech is cut here (a WAV reply fits one NATS message)"
    )
    pool_size: int = Field(4, ge=1, description="Postgres connections")
    ack_wait_s: float = Field(
        30.0, gt=0, description="JetStream redelivers a session deletion not acked within this"
    )
    retry_delay_s: float = Field(
        1.0, ge=0, description="Redelivery delay of a failed session deletion (NATS or DB away)"
    )

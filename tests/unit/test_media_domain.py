"""The media service's pure logic: images recognised from their bytes alone, everything else
refused (other formats, corrupt data, decompression bombs), and what is kept and announced."""

import hashlib
import io
import struct
import zlib
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from PIL import Image

from services.media.config import MediaSettings
from services.media.domain import (
    FORMATS,
    ContentType,
    ImageTooLarge,
    MediaError,
    StagedImageMissing,
    UnsupportedImage,
    check_size,
    image_info,
    same_upload,
    sniff,
    stored_event,
)
from shared.contracts import StoreImage

pytestmark = pytest.mark.unit

ALL: list[ContentType] = list(FORMATS)
MAX_PIXELS = 50_000_000
NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def image_bytes(fmt: str, size: tuple[int, int] = (40, 30)) -> bytes:
    """A real image drawn in memory (noise, so that most of its bytes are pixel data)."""
    out = io.BytesIO()
    Image.effect_noise(size, 64).convert("RGB").save(out, fmt)
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + png_chunk(b"IEND", b"")
    )


def refusal(data: bytes, *, max_pixels: int = MAX_PIXELS) -> str:
    with pytest.raises(UnsupportedImage) as err:
        sniff(data, allowed=ALL, max_pixels=max_pixels)
    assert err.value.rejection().reason == "unsupported"
    return err.value.message


def store_command() -> StoreImage:
    return StoreImage(
        media_id=uuid4(),
        project_key=uuid4(),
        session_id="s-1",
        filename="cat.png",
        correlation_id=uuid4(),
    )


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp")],
)
def test_real_images_are_recognised_with_type_size_and_digest(fmt: str, content_type: str) -> None:
    """PNG, JPEG, GIF and WEBP are accepted with the content type their bytes show, their
    dimensions, byte size and SHA-256."""
    data = image_bytes(fmt, (40, 30))
    found = sniff(data, allowed=ALL, max_pixels=MAX_PIXELS)
    assert (found.content_type, found.width, found.height) == (content_type, 40, 30)
    assert (found.size, found.sha256) == (len(data), hashlib.sha256(data).hexdigest())


def test_a_large_jpeg_is_checked_whole_and_keeps_its_real_dimensions() -> None:
    """A JPEG decoded at reduced scale still reports the dimensions of the image itself."""
    found = sniff(image_bytes("JPEG", (2000, 1500)), allowed=ALL, max_pixels=MAX_PIXELS)
    assert (found.width, found.height) == (2000, 1500)


@pytest.mark.parametrize(
    "data",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n",
        b"just some text, named cat.png",
        b"",
    ],
    ids=["svg", "html", "pdf", "text", "empty"],
)
def test_what_is_no_image_is_refused_whatever_its_name(data: bytes) -> None:
    """SVG, HTML, PDF, plain text and nothing at all are no images of an allowed type."""
    assert refusal(data) == (
        "not an image of an allowed type (image/gif, image/jpeg, image/png, image/webp)"
    )


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_truncated_images_are_refused(fmt: str) -> None:
    """An image cut off half way is refused, even when its header reads fine."""
    data = image_bytes(fmt, (64, 64))
    message = refusal(data[: len(data) // 2])
    if fmt != "WEBP":  # libwebp will not even open a cut-off file
        assert message == f"corrupt or truncated {Image.MIME[fmt]} data"


def test_a_png_with_a_bad_checksum_is_refused() -> None:
    """A PNG whose data no longer matches its checksums is refused."""
    data = bytearray(image_bytes("PNG", (64, 64)))
    data[-20] ^= 0xFF
    assert refusal(bytes(data)) == "corrupt or truncated image/png data"


def test_a_header_claiming_more_pixels_than_allowed_is_refused_before_decoding() -> None:
    """A 9000x9000 PNG header over a tiny body is refused by pixel count (a bomb)."""
    assert refusal(png_claiming(9000, 9000)) == (
        "9000x9000 pixels, over the 50000000 allowed (a decompression bomb?)"
    )


def test_a_header_beyond_pillows_own_limit_is_refused_too() -> None:
    """A PNG header claiming 100000x100000 pixels trips Pillow's own bomb guard: refused."""
    assert "decompression bomb" in refusal(png_claiming(100_000, 100_000))


def test_the_pixel_limit_is_configurable() -> None:
    """With a limit of 1000 pixels, a real 40x30 PNG is refused."""
    assert "40x30 pixels" in refusal(image_bytes("PNG"), max_pixels=1000)


def test_only_the_allowed_types_are_recognised() -> None:
    """A real GIF is refused when only PNG and JPEG are allowed."""
    with pytest.raises(UnsupportedImage) as err:
        sniff(image_bytes("GIF"), allowed=["image/png", "image/jpeg"], max_pixels=MAX_PIXELS)
    assert err.value.message == "not an image of an allowed type (image/jpeg, image/png)"


def test_size_over_the_limit_is_too_large() -> None:
    """One byte over the limit is refused as too_large; the limit itself is fine."""
    check_size(100, 100)
    with pytest.raises(ImageTooLarge) as err:
        check_size(101, 100)
    assert err.value.rejection().model_dump() == {
        "kind": "rejected",
        "reason": "too_large",
        "message": "101 bytes, over the 100 bytes allowed",
    }


def test_every_refusal_is_a_media_error_with_its_reason() -> None:
    """Refusals share the service's root error and map to the contract's reasons."""
    missing = StagedImageMissing(uuid4())
    assert isinstance(missing, MediaError)
    assert missing.rejection().reason == "missing"
    assert isinstance(UnsupportedImage("no"), MediaError)


def test_the_kept_metadata_is_the_commands_ids_and_the_sniffed_facts() -> None:
    """ImageInfo carries the command's ids and what the bytes are; a repeat of the same
    command is the same upload, another session's is not."""
    command = store_command()
    data = image_bytes("PNG")
    info = image_info(command, sniff(data, allowed=ALL, max_pixels=MAX_PIXELS), created_at=NOW)
    assert (info.media_id, info.project_key, info.session_id) == (
        command.media_id,
        command.project_key,
        "s-1",
    )
    assert (info.content_type, info.size, info.created_at) == ("image/png", len(data), NOW)
    assert same_upload(command, info)
    assert not same_upload(command.model_copy(update={"session_id": "s-2"}), info)


def test_the_announcement_of_one_image_always_has_the_same_event_id() -> None:
    """ImageStored's id derives from the media id (the stream drops a repeat), it happened
    when the image was kept, and it carries the command's correlation."""
    command, other = store_command(), store_command()
    sniffed = sniff(image_bytes("GIF"), allowed=ALL, max_pixels=MAX_PIXELS)
    info = image_info(command, sniffed, created_at=NOW)
    first = stored_event(info, correlation_id=command.correlation_id)
    assert first == stored_event(info, correlation_id=command.correlation_id)
    assert (first.image, first.occurred_at, first.correlation_id) == (
        info,
        NOW,
        command.correlation_id,
    )
    another = stored_event(image_info(other, sniffed, created_at=NOW), correlation_id=uuid4())
    assert another.event_id != first.event_id


def test_settings_default_to_every_type_ten_mib_and_fifty_megapixels() -> None:
    """By default all four types are kept, up to 10 MiB and 50 Mpx."""
    settings = MediaSettings()
    assert settings.allowed_types == ALL
    assert (settings.max_bytes, settings.max_pixels) == (10 * 1024 * 1024, 50_000_000)

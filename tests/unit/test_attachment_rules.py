"""The evidence-file rules (shared/attachments.py): sniffing, limits, stripping."""
from __future__ import annotations

from shared.attachments import Accepted, AttachmentLimits, Refused, check, sniff, strip_jpeg, strip_png
from tests.support.evidence import GPS_MARK, jpeg_with_exif, pdf, png_with_text

LIMITS = AttachmentLimits(max_bytes=4096, max_count=3)


def test_the_type_is_judged_by_the_bytes_never_by_a_name_or_header() -> None:
    assert sniff(jpeg_with_exif()) == "image/jpeg"
    assert sniff(png_with_text()) == "image/png"
    assert sniff(pdf()) == "application/pdf"
    assert sniff(b"GIF89a....") is None and sniff(b"<html>") is None


def test_a_jpeg_loses_its_exif_and_comment_and_keeps_its_image_data() -> None:
    kept, removed = strip_jpeg(jpeg_with_exif())
    assert GPS_MARK not in kept and kept.endswith(b"pixels\xff\xd9") and b"JFIF" in kept
    assert removed == ("exif", "comment")


def test_a_png_loses_its_text_and_exif_chunks_and_keeps_ihdr_idat_iend() -> None:
    kept, removed = strip_png(png_with_text())
    assert GPS_MARK not in kept and b"IHDR" in kept and b"IDAT" in kept and kept.endswith(b"IEND\xaeB`\x82")
    assert removed == ("text", "exif")


def test_limits_and_malformed_files_are_refused_with_a_reason() -> None:
    assert check(b"", already=0, limits=LIMITS) == Refused("empty", "the file is empty")
    assert isinstance(r := check(b"%PDF-" + b"x" * 5000, already=0, limits=LIMITS), Refused) and r.reason == "too_large"
    assert isinstance(r := check(pdf(), already=3, limits=LIMITS), Refused) and r.reason == "too_many"
    assert isinstance(r := check(jpeg_with_exif()[:30], already=0, limits=LIMITS), Refused) and r.reason == "malformed"
    broken_crc = bytearray(png_with_text())
    broken_crc[30] ^= 0xFF
    assert isinstance(r := check(bytes(broken_crc), already=0, limits=LIMITS), Refused) and r.reason == "malformed"
    assert isinstance(r := check(b"%PDF-1.4 no end", already=0, limits=LIMITS), Refused) and r.reason == "malformed"


def test_the_last_allowed_file_is_accepted_and_addressed_by_the_hash_of_what_is_kept() -> None:
    import hashlib

    got = check(jpeg_with_exif(), already=2, limits=LIMITS)
    assert isinstance(got, Accepted) and got.digest == hashlib.sha256(got.data).hexdigest()

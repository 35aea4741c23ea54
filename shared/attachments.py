"""Evidence attachments from a reporter (issue 15 §4): what is accepted, and what is removed
before a file is kept. Pure: bytes in, a decision out (the HTTP adapter reads the body, the
storage adapter keeps the result).

- **The content type is sniffed** from the file's first bytes (its magic number), never taken from
  the client's ``Content-Type`` or file name: a PDF sent as ``image/jpeg`` is a PDF, a script sent
  as ``image/png`` is refused.
- **Accepted**: JPEG, PNG (photos, screenshots) and PDF (receipts, invoices). Anything else is
  refused with ``unsupported_type``.
- **Limits**: `AttachmentLimits` (size per file, files per complaint); over a limit → refused.
- **Photo metadata is stripped**: from a JPEG every APP1 (Exif — GPS position, camera serial —
  and XMP), APP12/APP13 (Photoshop/IPTC) and comment segment; from a PNG the ``eXIf``, text
  (``tEXt``/``zTXt``/``iTXt``) and ``tIME`` chunks. The pixels are not re-encoded, so the image is
  the one sent. (The Exif orientation goes too: a rotated phone photo shows unrotated.) A PDF's
  document information (author, producer) is kept: it is part of a receipt's evidence.
- **Malformed** images (a JPEG whose segments run past the end, a PNG chunk with a bad length or
  CRC) are refused with ``malformed``, so nothing half-parsed is kept.

The file is then addressed by the SHA-256 of the bytes kept (`digest`).
"""
from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass
from typing import Literal

ContentType = Literal["image/jpeg", "image/png", "application/pdf"]
Refusal = Literal["empty", "too_large", "too_many", "unsupported_type", "malformed"]

#: the HTTP status of each refusal (intake's and custody's uploads answer the same)
HTTP_STATUS: dict[str, int] = {"empty": 422, "malformed": 422, "too_large": 413, "unsupported_type": 415, "too_many": 409}
EXTENSIONS: dict[str, str] = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG chunks that carry metadata, not pixels
_PNG_METADATA = frozenset({b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"})
#: JPEG markers whose segments carry metadata: APP1 (Exif, XMP), APP12, APP13 (IPTC), COM
_JPEG_METADATA = frozenset({0xE1, 0xEC, 0xED, 0xFE})


@dataclass(frozen=True)
class AttachmentLimits:
    """Per-file size and per-complaint count (settings: ``attachment_max_bytes``, ``attachment_max_count``)."""

    max_bytes: int = 5 * 1024 * 1024
    max_count: int = 5


@dataclass(frozen=True)
class Accepted:
    content_type: ContentType
    data: bytes
    digest: str  # sha256 hex of `data`
    removed: tuple[str, ...]  # which kinds of metadata were stripped ("exif", "xmp", "iptc", "comment", "text", "time")


@dataclass(frozen=True)
class Refused:
    reason: Refusal
    detail: str


class Malformed(ValueError):
    pass


def sniff(data: bytes) -> ContentType | None:
    """The type the bytes are, by their magic number (None: not one we accept)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(_PNG_SIGNATURE):
        return "image/png"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def check(data: bytes, *, already: int, limits: AttachmentLimits) -> Accepted | Refused:
    """Decide on one file; `already`: how many the complaint has."""
    if not data:
        return Refused("empty", "the file is empty")
    if len(data) > limits.max_bytes:
        return Refused("too_large", f"at most {limits.max_bytes} bytes per file, got {len(data)}")
    if already >= limits.max_count:
        return Refused("too_many", f"at most {limits.max_count} files per complaint")
    kind = sniff(data)
    if kind is None:
        return Refused("unsupported_type", "only JPEG, PNG and PDF files are accepted (judged by the content, "
                                           "not by the name or the declared type)")
    try:
        if kind == "image/jpeg":
            kept, removed = strip_jpeg(data)
        elif kind == "image/png":
            kept, removed = strip_png(data)
        else:
            if b"%%EOF" not in data[-1024:]:
                raise Malformed("the PDF has no end-of-file marker")
            kept, removed = data, ()
    except Malformed as exc:
        return Refused("malformed", str(exc))
    return Accepted(kind, kept, hashlib.sha256(kept).hexdigest(), removed)


def strip_jpeg(data: bytes) -> tuple[bytes, tuple[str, ...]]:
    """The JPEG without its metadata segments (the entropy-coded image after SOS is copied as is)."""
    out = bytearray(b"\xff\xd8")
    removed: list[str] = []
    i = 2
    n = len(data)
    while True:
        if i + 4 > n or data[i] != 0xFF:
            raise Malformed("the JPEG's segments are cut short or corrupt")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9:  # end of image without a scan
            out += data[i:i + 2]
            break
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        end = i + 2 + length
        if length < 2 or end > n:
            raise Malformed("a JPEG segment runs past the end of the file")
        segment = data[i:end]
        if marker in _JPEG_METADATA:
            body = data[i + 4:end]
            removed.append("exif" if body.startswith(b"Exif\x00") else
                           "xmp" if marker == 0xE1 else "comment" if marker == 0xFE else "iptc")
        else:
            out += segment
        i = end
        if marker == 0xDA:  # start of scan: the rest is image data
            out += data[i:]
            break
    return bytes(out), tuple(dict.fromkeys(removed))


def strip_png(data: bytes) -> tuple[bytes, tuple[str, ...]]:
    """The PNG without its metadata chunks; every chunk's CRC is checked."""
    out = bytearray(_PNG_SIGNATURE)
    removed: list[str] = []
    i = len(_PNG_SIGNATURE)
    n = len(data)
    seen_end = False
    while i < n:
        if i + 12 > n:
            raise Malformed("a PNG chunk is cut short")
        (length,) = struct.unpack(">I", data[i:i + 4])
        kind = data[i + 4:i + 8]
        end = i + 12 + length
        if end > n:
            raise Malformed("a PNG chunk runs past the end of the file")
        (crc,) = struct.unpack(">I", data[end - 4:end])
        if zlib.crc32(data[i + 4:end - 4]) != crc:
            raise Malformed("a PNG chunk's checksum is wrong")
        if kind in _PNG_METADATA:
            removed.append("exif" if kind == b"eXIf" else "time" if kind == b"tIME" else "text")
        else:
            out += data[i:end]
        i = end
        if kind == b"IEND":
            seen_end = True
            break
    if not seen_end:
        raise Malformed("the PNG has no IEND chunk")
    return bytes(out), tuple(dict.fromkeys(removed))

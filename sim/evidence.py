"""Small evidence files, built byte by byte: a JPEG carrying Exif (GPS, a camera serial) and a comment
as a phone's photo does, a PNG with text and eXIf chunks, a PDF. The simulated complainants attach
the photo (`sim.reporters`); the tests use all three, knowing exactly what intake must strip."""
from __future__ import annotations

import struct
import zlib

GPS_MARK = b"GPS-34.3296N-108.7093E-device-SN12345"


def jpeg_with_exif(scan: bytes = b"\x12\x34\x56\x78pixels") -> bytes:
    """`scan`: the entropy-coded data (a different picture: different bytes after the metadata is gone)."""
    def segment(marker: int, body: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body

    return (b"\xff\xd8"
            + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
            + segment(0xE1, b"Exif\x00\x00" + GPS_MARK)
            + segment(0xFE, b"taken by " + GPS_MARK)
            + segment(0xDB, b"\x00" + bytes(range(64)))
            + segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
            + scan.replace(b"\xff", b"\xfe") + b"\xff\xd9")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_with_text() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"tEXt", b"Author\x00" + GPS_MARK)
            + _chunk(b"eXIf", b"MM\x00*" + GPS_MARK) + _chunk(b"IDAT", zlib.compress(b"\x00\x00"))
            + _chunk(b"IEND", b""))


def pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"

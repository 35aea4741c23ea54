"""The evidence files of sim/evidence.py, where the tests have always imported them from."""
from sim.evidence import GPS_MARK, jpeg_with_exif, pdf, png_with_text

__all__ = ["GPS_MARK", "jpeg_with_exif", "pdf", "png_with_text"]

"""Untrusted images opened within a memory budget: the size is read from the header, then decoded small.

A PNG of 10,000 × 10,000 pixels is a few hundred kilobytes on disk and 300-400 MB once decoded.
`open_bounded` refuses such a file before any pixel is decoded: Pillow's `Image.open` reads only
the header. JPEG can be decoded at 1/2, 1/4 or 1/8 scale (`draft`), so a big photo costs little;
the other formats are decoded whole, hence their lower limit. Pillow is imported here, lazily:
the web workers only load it when an image is actually handled.
"""

from __future__ import annotations

import warnings

from flask_babel import lazy_gettext as _l

from agora.core.services import ServiceError

#: Largest JPEG accepted: decoded at reduced scale, a 40-megapixel photo needs about 2 MB.
MAX_PIXELS = 40_000_000
#: Largest image of any other format, decoded whole (at 4 bytes a pixel: 64 MB).
MAX_FULL_DECODE_PIXELS = 16_000_000
#: Formats whose decoder can make a reduced image without decoding the full one.
REDUCED_DECODE_FORMATS = frozenset({"JPEG"})


class ImageTooLarge(ValueError):
    """The image has more pixels than may be decoded; `limit` is the limit that applied."""

    def __init__(self, limit: int):
        super().__init__(f"more than {limit} pixels")
        self.limit = limit


def _pil():
    from PIL import Image

    # Pillow's own guard (a warning past this, an error past twice this) backs up ours for any
    # other path that opens an image.
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    return Image


def pixel_limit(image_format: str | None) -> int:
    """The most pixels an image of that Pillow format may have."""
    return MAX_PIXELS if image_format in REDUCED_DECODE_FORMATS else MAX_FULL_DECODE_PIXELS


def _starts_as_jpeg(source) -> bool:
    if hasattr(source, "read"):
        source.seek(0)
        return source.read(3) == b"\xff\xd8\xff"
    with open(source, "rb") as handle:
        return handle.read(3) == b"\xff\xd8\xff"


def open_bounded(source):
    """Open an image (path or file object) lazily and check its size from the header.

    Returns the opened, not yet decoded, image (close it). Raises ImageTooLarge past the limit of
    its format, PIL.UnidentifiedImageError or OSError for a file that is not a readable image.
    """
    Image = _pil()
    with warnings.catch_warnings():
        # The same answer in production (where it would only be a warning) as under the tests.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(source)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise ImageTooLarge(pixel_limit("JPEG" if _starts_as_jpeg(source) else None)) from None
    limit = pixel_limit(image.format)
    if image.width * image.height > limit:
        image.close()
        raise ImageTooLarge(limit)
    return image


def reduced(image, size: tuple[int, int]):
    """Decode `image` (from open_bounded) at the smallest scale still at least `size`, turned upright.

    For JPEG the decoder itself scales down (`draft`); other formats were bounded by open_bounded.
    """
    from PIL import ImageOps

    if image.format in REDUCED_DECODE_FORMATS:
        image.draft("RGB", size)
    with warnings.catch_warnings():
        warnings.simplefilter("error", _pil().DecompressionBombWarning)
        return ImageOps.exif_transpose(image)


def too_large_error(exc: ImageTooLarge, field: str) -> ServiceError:
    """The refusal of an image with too many pixels, in words (413)."""
    return ServiceError(
        _l(
            "Cette image est trop grande : %(n)s millions de pixels au plus. Réduisez-la "
            "(par exemple en l'enregistrant plus petite) puis réessayez.",
            n=exc.limit // 1_000_000,
        ),
        field=field,
        status=413,
    )

"""QR codes drawn as inline SVG, for links printed and pinned on a wall."""

from __future__ import annotations

from markupsafe import Markup


def qr_svg(data: str, label: str) -> Markup:
    """Return an accessible inline SVG QR code for data; label is what a screen reader hears."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    svg = image.to_string(encoding="unicode")
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{Markup.escape(label)}" ', 1)
    return Markup(svg)

"""Seal pictures: generated in four styles, uploads checked and normalised."""

import io

import pytest
from PIL import Image

from seals.picture import STYLES, PictureError, generate, normalise_upload


def rgba(png: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(png))
    assert im.format == "PNG"
    return im.convert("RGBA")


@pytest.mark.parametrize("style", list(STYLES))
def test_generated_seal_is_a_red_round_transparent_42mm_png(style):
    im = rgba(generate(style, "哈尔滨市市场监督管理局", "电子证照专用章", "2301000012345"))
    assert im.size == (496, 496)  # 42 mm at 300 dpi
    assert im.getpixel((3, 3))[3] == 0                    # corners transparent
    r, g, b, a = im.getpixel((248, 236))                  # the star, just above the centre
    assert a > 200 and r > 200 and g < 60 and b < 60
    assert im.getpixel((248, 9))[3] > 200                 # the ring at the top


def test_size_and_long_names():
    assert rgba(generate("official", "哈", size_mm=30)).size == (354, 354)
    long = "共青团哈尔滨某某科技有限公司委员会某某分支"
    assert rgba(generate("league", long)).size == (496, 496)


@pytest.mark.parametrize("style, text", [("square", "x"), ("official", ""), ("official", "字" * 41)])
def test_refusals(style, text):
    with pytest.raises(PictureError):
        generate(style, text)


def image_bytes(fmt: str, size=(120, 120), colour=(255, 255, 255)) -> bytes:
    im = Image.new("RGB", size, colour)
    for x in range(30, 90):
        for y in range(30, 90):
            im.putpixel((x, y), (220, 0, 0))
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF"])
def test_uploads_become_transparent_png_cropped_to_the_seal(fmt):
    out = rgba(normalise_upload(image_bytes(fmt)))
    assert 55 <= out.width <= 65 and 55 <= out.height <= 65
    assert out.getpixel((out.width // 2, out.height // 2))[3] == 255


def test_upload_refusals():
    with pytest.raises(PictureError, match="JPG, JPEG, PNG or GIF"):
        normalise_upload(image_bytes("BMP"))
    with pytest.raises(PictureError, match="not a readable picture"):
        normalise_upload(b"<svg onload=alert(1)>")
    with pytest.raises(PictureError, match="empty"):
        normalise_upload(image_bytes("PNG", colour=(255, 255, 255))[:0] or _all_white())
    with pytest.raises(PictureError, match="larger than 5 MB"):
        normalise_upload(b"\x89PNG" + b"0" * (5 * 1024 * 1024 + 1))
    big = Image.new("RGB", (5000, 5000), (255, 255, 255))
    buf = io.BytesIO()
    big.save(buf, format="PNG")
    with pytest.raises(PictureError, match="too many pixels"):
        normalise_upload(buf.getvalue())


def _all_white() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (50, 50), (255, 255, 255)).save(buf, format="PNG")
    return buf.getvalue()

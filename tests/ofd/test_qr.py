"""The anti-forgery QR code decodes (zxing-cpp) to the ASCII verification URL."""

import io

import pytest
import zxingcpp
from PIL import Image

from ofd.design import default_for
from ofd.package import Package
from ofd.qr import qr_png, verification_url
from ofd.writer import OFDMeta, write_ofd

IDENT = "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F"


def decode(png: bytes) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def test_qr_decodes_to_the_verification_url():
    url = verification_url("http://127.0.0.1:8000", IDENT)
    assert url == f"http://127.0.0.1:8000/verify/{IDENT}" and url.isascii()
    assert decode(qr_png(url)) == [url]


def test_non_ascii_is_percent_encoded_or_refused():
    url = verification_url("http://证照.example", "1.2.156.3005.2.X")
    assert url.isascii() and decode(qr_png(url)) == [url]
    with pytest.raises(ValueError, match="ASCII"):
        qr_png("http://证照.example/")


def test_qr_placed_by_the_design_decodes_from_the_ofd():
    url = verification_url("http://127.0.0.1:8000", IDENT)
    pkg = Package.load(write_ofd(default_for([]), {"holder": "某某"}, OFDMeta("d", "t"), qr_png=qr_png(url)))
    [png] = [data for name, data in pkg.files.items() if name.endswith(".png")]
    assert decode(png) == [url]
    page = pkg.files["Doc_0/Pages/Page_0/Content.xml"].decode()
    assert 'Boundary="20 165 25 25"' in page  # where the default design puts it

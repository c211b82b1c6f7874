"""OFD writing, reading back, an independent reader, and hostile packages."""

import io
import zipfile

import pytest

from ofd.design import default_for
from ofd.package import Limits, Package, UnsafePackage
from ofd.text_layout import layout
from ofd.writer import OFDMeta, write_ofd, zip_package

VALUES = {"ENTNAME": "哈尔滨<某某>&\"科技\"有限公司", "dom": "哈尔滨市南岗区某路1号", "number": "91230100MA1234567X",
          "holder": "哈尔滨某某科技有限公司", "issue_dept": "哈尔滨市市场监督管理局", "issue_date": "2024年3月1日"}


def design():
    return default_for([("ENTNAME", "名称"), ("dom", "住所")])


def make(values=VALUES, **kw):
    return write_ofd(design(), values, OFDMeta("doc-1", "营业执照", custom={"identifier": "1.2.156.3005.2.T.I.0000001.001.X"}),
                     **kw)


def qr_png():
    from ofd.qr import qr_png as make_qr

    return make_qr("https://127.0.0.1/verify/1")


def test_written_ofd_reads_back_with_its_text():
    pkg = Package.load(make(qr_png=qr_png()))
    [text] = pkg.page_texts()
    assert "名称：哈尔滨<某某>&\"科技\"有限公司" in text and "哈尔滨市市场监督管理局" in text
    assert any(n.endswith(".png") for n in pkg.files)


def test_independent_reader_ofdkit_finds_the_text():
    import ofdkit

    text = ofdkit.extract_text(make())
    assert "哈尔滨<某某>&\"科技\"有限公司" in text and "91230100MA1234567X" in text


def test_values_are_escaped_not_interpreted():
    evil = dict(VALUES, ENTNAME='</ofd:TextCode><ofd:Evil/>&amp;<!ENTITY x "y">')
    pkg = Package.load(make(evil))
    assert '</ofd:TextCode><ofd:Evil/>&amp;<!ENTITY x "y">' in pkg.page_texts()[0]
    assert b"<ofd:Evil" not in pkg.files["Doc_0/Pages/Page_0/Content.xml"]


def test_same_image_is_stored_once():
    png = qr_png()
    d = design().model_copy(update={"background": "file:" + "a" * 64})
    data = write_ofd(d, VALUES, OFDMeta("d", "t"), images=lambda ref: (png, "png"), qr_png=png)
    assert sum(n.endswith(".png") for n in Package.load(data).files) == 1


def test_layout_wraps_aligns_and_cuts():
    lines = layout("软件开发" * 20, box_width=50, box_height=12, size_pt=12, wrap=True)
    assert len(lines) == 2 and all(sum(l.advances) < 50 for l in lines)
    [centred] = layout("证照", 100, 10, 12, align="center")
    assert centred.x > 40
    [right] = layout("证照", 100, 10, 12, align="right")
    assert right.x > centred.x


# --- hostile packages ----------------------------------------------------------------------------

def package_with(entries: dict, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize("name", ["../evil.xml", "/etc/passwd", "Doc_0/../../x", "C:/x.xml", "a\\b.xml"])
def test_entries_escaping_the_root_are_refused(name):
    with pytest.raises(UnsafePackage, match="unsafe|escapes"):
        Package.load(package_with({"OFD.xml": b"<a/>", name: b"x"}))


def test_zip_bomb_and_size_limits():
    bomb = package_with({"OFD.xml": b"<a/>", "Doc_0/big.xml": b"\0" * (20 * 1024 * 1024)})
    with pytest.raises(UnsafePackage, match="zip bomb"):
        Package.load(bomb)
    with pytest.raises(UnsafePackage, match="larger than"):
        Package.load(make(), Limits(max_file=100))
    many = package_with({"OFD.xml": b"<a/>", **{f"f{i}": b"x" for i in range(30)}})
    with pytest.raises(UnsafePackage, match="more than 10 entries"):
        Package.load(many, Limits(max_entries=10))


def test_external_entities_and_dtds_are_refused():
    xxe = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016">&x;</ofd:OFD>'
    pkg = Package.load(package_with({"OFD.xml": xxe}))
    with pytest.raises(UnsafePackage, match="forbidden XML"):
        pkg.document_path()
    laughs = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><r>&b;</r>'
    with pytest.raises(UnsafePackage, match="forbidden XML"):
        Package.load(package_with({"OFD.xml": laughs})).xml("OFD.xml")


def test_not_a_package_and_missing_parts():
    with pytest.raises(UnsafePackage, match="not a zip"):
        Package.load(b"%PDF-1.7 not an ofd")
    with pytest.raises(UnsafePackage, match="OFD.xml is missing"):
        Package.load(package_with({"x.xml": b"<a/>"}))
    pkg = Package.load(zip_package({"OFD.xml": b'<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"/>'}))
    with pytest.raises(UnsafePackage, match="DocRoot"):
        pkg.page_texts()
    with pytest.raises(UnsafePackage, match="not well-formed"):
        Package.load(package_with({"OFD.xml": b"<a>"})).xml("OFD.xml")

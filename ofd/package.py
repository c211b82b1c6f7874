"""Reading OFD packages safely: an OFD file is a zip of XML parts, and both can be hostile.

Before anything is extracted, every entry is checked: its name (no absolute path, no '..', no
backslash, no drive letter, no duplicate), its size, the total size, the number of entries and
the compression ratio (zip bombs). XML is parsed with defusedxml, which refuses DTDs, entity
expansion and external entities.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from io import BytesIO
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

NS = "http://www.ofdspec.org/2016"
Q = "{" + NS + "}"


class UnsafePackage(ValueError):
    """The file is not a well-formed, safe OFD package; the message says what is wrong."""


@dataclass(frozen=True)
class Limits:
    max_file: int = 50 * 1024 * 1024
    max_entries: int = 2000
    max_entry: int = 50 * 1024 * 1024
    max_total: int = 200 * 1024 * 1024
    max_ratio: int = 200


DEFAULT_LIMITS = Limits()
_DRIVE = re.compile(r"^[A-Za-z]:")


def check_name(name: str) -> str:
    if not name or name.startswith("/") or "\\" in name or _DRIVE.match(name) or "\x00" in name:
        raise UnsafePackage(f"unsafe entry name {name!r}")
    parts = name.split("/")
    if any(p in ("..", ".") for p in parts):
        raise UnsafePackage(f"entry {name!r} escapes the package root")
    return name


@dataclass
class Package:
    """The parts of an OFD file, by normalised path."""

    files: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def load(cls, data: bytes, limits: Limits = DEFAULT_LIMITS) -> "Package":
        if len(data) > limits.max_file:
            raise UnsafePackage(f"the file is larger than {limits.max_file // (1024 * 1024)} MB")
        try:
            zf = zipfile.ZipFile(BytesIO(data))
        except zipfile.BadZipFile:
            raise UnsafePackage("not an OFD file (not a zip package)") from None
        with zf:
            infos = zf.infolist()
            if len(infos) > limits.max_entries:
                raise UnsafePackage(f"more than {limits.max_entries} entries")
            total, seen = 0, set()
            for info in infos:
                name = check_name(info.filename)
                if name in seen:
                    raise UnsafePackage(f"duplicate entry {name!r}")
                seen.add(name)
                if info.file_size > limits.max_entry:
                    raise UnsafePackage(f"entry {name!r} is too large")
                if info.compress_size and info.file_size / info.compress_size > limits.max_ratio:
                    raise UnsafePackage(f"entry {name!r} is compressed suspiciously well (zip bomb?)")
                total += info.file_size
                if total > limits.max_total:
                    raise UnsafePackage("the package expands beyond the size limit")
            pkg = cls()
            for info in infos:
                if info.is_dir():
                    continue
                with zf.open(info) as fh:
                    content = fh.read(limits.max_entry + 1)  # never trust the declared size alone
                if len(content) > limits.max_entry:
                    raise UnsafePackage(f"entry {info.filename!r} is too large")
                pkg.files[info.filename] = content
        if "OFD.xml" not in pkg.files:
            raise UnsafePackage("OFD.xml is missing")
        return pkg

    def xml(self, path: str) -> Element:
        try:
            raw = self.files[path]
        except KeyError:
            raise UnsafePackage(f"{path} is missing") from None
        try:
            return SafeET.fromstring(raw)
        except DefusedXmlException as exc:
            raise UnsafePackage(f"{path}: forbidden XML construct ({type(exc).__name__})") from None
        except SafeET.ParseError as exc:
            raise UnsafePackage(f"{path}: not well-formed XML ({exc})") from None

    def resolve(self, base: str, loc: str) -> str:
        """A path inside the package from a location attribute relative to ``base``'s folder."""
        loc = loc.lstrip("/") if loc.startswith("/") else "/".join(filter(None, base.split("/")[:-1] + [loc]))
        check_name(loc)
        return loc

    # --- reading the document ---
    def document_path(self) -> str:
        root = self.xml("OFD.xml")
        doc_root = root.find(f"{Q}DocBody/{Q}DocRoot")
        if doc_root is None or not (doc_root.text or "").strip():
            raise UnsafePackage("OFD.xml names no document (DocRoot)")
        return self.resolve("OFD.xml", doc_root.text.strip())

    def page_paths(self) -> list[str]:
        doc_path = self.document_path()
        doc = self.xml(doc_path)
        return [self.resolve(doc_path, p.get("BaseLoc", "")) for p in doc.iter(f"{Q}Page")]

    def page_texts(self) -> list[str]:
        """The text of every page, object by object in document order."""
        out = []
        for path in self.page_paths():
            page = self.xml(path)
            out.append("\n".join("".join(tc.text or "" for tc in obj.iter(f"{Q}TextCode"))
                                 for obj in page.iter(f"{Q}TextObject")))
        return out

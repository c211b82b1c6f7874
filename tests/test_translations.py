"""English is available for every page: each zh-CN string of web/ has its English translation.

The sources are extracted the way scripts/i18n does (web/babel.cfg); a string added without
running that script, or left untranslated, fails here with its text.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo

ROOT = Path(__file__).resolve().parents[1]


def _source_messages() -> set[str]:
    with open(ROOT / "web" / "babel.cfg", encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    keywords = dict(DEFAULT_KEYWORDS, _l=None, lazy_gettext=None)
    out = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(str(ROOT), method_map, options_map, keywords):
        out.add(message if isinstance(message, str) else message[0])
    return out


def test_every_string_has_its_english_translation():
    with open(ROOT / "web" / "translations" / "en" / "LC_MESSAGES" / "messages.mo", "rb") as fh:
        catalog = read_mo(fh)
    translated = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog
                  if m.id and (m.string if isinstance(m.string, str) else all(m.string))}
    sources = _source_messages()
    assert len(sources) > 200
    missing = sorted(sources - translated)
    assert missing == [], f"run scripts/i18n and translate: {missing[:20]}"

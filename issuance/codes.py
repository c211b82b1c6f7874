"""Code lists used by the data items: holder code types and region codes.

The holder code types follow the table A.2 of DB23/T 2836 in spirit; the text of that table did
not survive in our copy of the standard, so the list is kept here in one place to amend.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

HOLDER_TYPES: dict[str, str] = {
    "01": "统一社会信用代码",
    "02": "组织机构代码",
    "03": "工商注册号",
    "10": "公民身份号码",
    "11": "护照号",
    "12": "港澳居民来往内地通行证",
    "13": "台湾居民来往大陆通行证",
    "14": "外国人永久居留身份证",
    "99": "其他",
}

REGION_RE = re.compile(r"^\d{6}$")


@lru_cache(maxsize=1)
def known_regions() -> dict[str, str]:
    """Region codes shipped with the package (Heilongjiang); any six-digit code is accepted."""
    text = resources.files("issuance").joinpath("data/regions_heilongjiang.json").read_text("utf-8")
    return json.loads(text)


def is_region_code(code: str) -> bool:
    return bool(REGION_RE.match(code or "")) and code != "000000"

"""Checking and normalising certificate field values against a type's field definitions.

Values are normalised (dates to ISO, numbers to their plain decimal text, codes upper-case) so
that the same certificate always produces the same canonical data and therefore the same digest.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError

from .errors import ValidationError
from .models import TypeField, ValueType

_CN_DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_IMAGE_REF = re.compile(r"^file:[0-9a-f]{64}$")
_DATA_URI = re.compile(r"^data:image/(png|jpeg);base64,([A-Za-z0-9+/=\s]+)$")
MAX_INLINE_IMAGE = 2 * 1024 * 1024
IMAGE_MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "jpeg": b"\xff\xd8\xff"}


def parse_date(value: Any) -> date:
    """ISO dates and the Chinese form of the standard's examples (1995年3月1日), nothing else.

    An ISO date-time counts as its date: JSON clients and spreadsheet cells often carry one.
    The whole text must be the date; "2024-03-01garbage" is a typing mistake, not a date.
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    m = _CN_DATE.fullmatch(text)
    try:
        if m:
            return date(int(m[1]), int(m[2]), int(m[3]))
        try:
            return date.fromisoformat(text)
        except ValueError:
            return datetime.fromisoformat(text).date()
    except ValueError:
        raise ValueError("expected a date such as 2024-03-01 or 2024年3月1日") from None


def _image(text: str) -> str:
    if _IMAGE_REF.match(text):
        return text
    m = _DATA_URI.match(text)
    if not m:
        raise ValueError("expected a stored file reference or a PNG/JPEG data URI")
    try:
        raw = base64.b64decode(m[2], validate=False)
    except (binascii.Error, ValueError):
        raise ValueError("image data is not valid base64") from None
    if len(raw) > MAX_INLINE_IMAGE:
        raise ValueError("image is larger than 2 MB")
    if not raw.startswith(IMAGE_MAGIC[m[1]]):
        raise ValueError(f"image data is not a {m[1].upper()} file")
    return f"data:image/{m[1]};base64,{base64.b64encode(raw).decode()}"


def normalise(field: TypeField, value: Any) -> str:
    """One value, checked; raises ValueError with a message for the person who typed it."""
    vt = field.value_type
    text = "" if value is None else str(value).strip()
    if vt in (ValueType.STRING, ValueType.TEXT):
        limit = field.max_length if vt is ValueType.STRING else max(field.max_length, 4000)
        if len(text) > limit:
            raise ValueError(f"at most {limit} characters")
        if vt is ValueType.STRING and ("\n" in text or "\r" in text):
            raise ValueError("a single line is expected")
        return text
    if vt is ValueType.NUMBER:
        try:
            num = Decimal(text)
        except InvalidOperation:
            raise ValueError("expected a number") from None
        if not num.is_finite():
            raise ValueError("expected a finite number")
        if len(text) > 64 or abs(num.adjusted()) > 40:  # "1e999999" would cost minutes to print in full
            raise ValueError("the number is too large or too precise (at most 40 digits)")
        return format(num.normalize(), "f") if num != num.to_integral() else str(int(num))
    if vt is ValueType.DATE:
        return parse_date(text).isoformat()
    if vt is ValueType.ENUM:
        if text not in (field.options or []):
            raise ValueError(f"must be one of: {', '.join(field.options or [])}")
        return text
    if vt is ValueType.ID_NUMBER:
        try:
            return ric.validate(text)
        except StdnumError:
            raise ValueError("not a valid resident identity card number") from None
    if vt is ValueType.USCC:
        try:
            return uscc.validate(text)
        except StdnumError:
            raise ValueError("not a valid unified social credit code") from None
    if vt is ValueType.IMAGE:
        return _image(text)
    raise ValueError(f"unsupported value type {vt}")  # pragma: no cover


def validate_values(fields: Iterable[TypeField], values: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """All values of one certificate; every problem is reported at once, keyed by column name."""
    fields = list(fields)
    by_column = {f.column_name: f for f in fields}
    errors: dict[str, str] = {}
    clean: dict[str, str] = {}
    for key in values:
        if key not in by_column:
            errors[f"{prefix}{key}"] = "unknown field for this certificate type"
    for f in fields:
        raw = values.get(f.column_name)
        if raw is None or str(raw).strip() == "":
            if f.required:
                errors[f"{prefix}{f.column_name}"] = f"{f.name} is required"
            continue
        try:
            clean[f.column_name] = normalise(f, raw)
        except ValueError as exc:
            errors[f"{prefix}{f.column_name}"] = f"{f.name}: {exc}"
    if errors:
        raise ValidationError(errors)
    return clean

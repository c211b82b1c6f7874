"""Paging, filtering and sorting on the server, the same way for every list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Mapping, Sequence, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from .errors import ValidationError

T = TypeVar("T")
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    page: int
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def paginate(session: Session, stmt: Select, page: int = 1, size: int = 20, sort: str = "",
             sortable: Mapping[str, object] | None = None) -> Page:
    """``sort`` is a column key, optionally prefixed with '-'; only keys in ``sortable`` are honoured."""
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise ValidationError({"page": f"page starts at 1, size is 1-{MAX_PAGE_SIZE}"})
    total = session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    if sort:
        key = sort.lstrip("-")
        if not sortable or key not in sortable:
            raise ValidationError({"sort": f"cannot sort by {key!r}"})
        col = sortable[key]
        order = [col.desc() if sort.startswith("-") else col.asc()]  # type: ignore[attr-defined]
        entity = stmt.column_descriptions[0].get("entity")
        key_col = getattr(entity, "id", None)
        if key_col is not None and key_col is not col:
            # ties (rows made in one transaction share created_at) in a stable order, or a row
            # could show on two pages and another on none
            order.append(key_col.desc() if sort.startswith("-") else key_col.asc())
        stmt = stmt.order_by(None).order_by(*order)
    items = session.execute(stmt.limit(size).offset((page - 1) * size)).scalars().all()
    return Page(items, total, page, size)


def like(text: str) -> str:
    """A LIKE pattern for a user's search text, with its wildcards escaped."""
    esc = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{esc}%"

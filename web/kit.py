"""What every module's views share: the role guard, list arguments, form errors, redirects.

A module's view does three things: read and check the request, call one service of
``issuance/`` inside a unit of work, render. Refusals of the domain need no code in the view:
``web/errors.py`` (for blueprints made by ``blueprint`` below) turns NotFound into 404, PermissionDenied into 403, IllegalTransition and
Conflict into 409, an uncaught ValidationError into 400, each as a page with the message. A view
catches ValidationError only where it re-renders its form with the messages next to the fields.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import wraps
from typing import Callable, Iterable, Iterator, Mapping

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from issuance.context import Actor
from issuance.errors import PermissionDenied, ValidationError
from issuance.listing import MAX_PAGE_SIZE
from issuance.models import RoleCode

from .app import current_platform
from .auth import current_actor, login_required

def blueprint(name: str, import_name: str, url_prefix: str) -> Blueprint:
    """A module's blueprint, whose views may let the domain's refusals through (web/errors.py)."""
    from .errors import on_pages

    bp = Blueprint(name, import_name, url_prefix=url_prefix)
    on_pages(bp)
    return bp


# every state a list shows, in the reader's language (templates: kit.state(value, state_labels))
STATE_LABELS = {
    "draft": _l("草稿"), "submitted": _l("待审核"), "approved": _l("已通过"), "rejected": _l("已驳回"),
    "disabled": _l("已禁用"), "withdrawn": _l("已撤回"), "issuing": _l("签发中"), "effective": _l("已生效"),
    "lost": _l("已挂失"), "revoked": _l("已注销"), "review_overdue": _l("年审逾期"), "superseded": _l("已变更"),
    "pending": _l("等待"), "running": _l("进行中"), "done": _l("成功"), "failed": _l("失败"), "skipped": _l("跳过"),
    "none": _l("不共享"), "on_demand": _l("依职能按需共享"), "public": _l("社会公示"),
    "valid": _l("有效"), "frozen": _l("已冻结"), "cancelled": _l("已注销"), "expired": _l("已过期"),
}


BEIJING = timezone(timedelta(hours=8))  # China Standard Time, no daylight saving


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A stored time (UTC; naive ones are UTC too) as the Beijing time every page shows."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(BEIJING).strftime(fmt)


def install(app) -> None:
    """Make the shared labels and time filters available to every template:
    ``|when`` (to the minute), ``|when_s`` (to the second), ``|day`` (the date)."""
    app.jinja_env.globals["state_labels"] = STATE_LABELS
    app.jinja_env.filters["when"] = lambda v: local_time(v, "%Y-%m-%d %H:%M")
    app.jinja_env.filters["when_s"] = local_time
    app.jinja_env.filters["day"] = lambda v: local_time(v, "%Y-%m-%d") if isinstance(v, datetime) else (
        v.isoformat() if v else "")


ANY_ROLE: tuple[RoleCode, ...] = ()
DEPT_STAFF = (RoleCode.DEPT_ADMIN, RoleCode.CLERK, RoleCode.REVIEWER)


def allowed(actor: Actor, roles: Iterable[RoleCode] = ANY_ROLE, admin_only: bool = False,
            department: bool = False) -> bool:
    """The same rule the domain applies: admins pass role checks; others need a role of ``roles``
    in their current department (``department``: and must be acting for one)."""
    if admin_only:
        return actor.is_admin
    if department and actor.department_id is None and not actor.is_admin:
        return False
    roles = tuple(roles)
    if not roles or actor.is_admin:
        return True
    return bool(actor.roles.intersection(r.value for r in roles))


def guard(*roles: RoleCode, admin_only: bool = False, department: bool = False) -> Callable:
    """Login, then the role check of ``allowed``; a refusal is the 403 page, before any work."""

    def decorate(view: Callable) -> Callable:
        @login_required
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not allowed(current_actor(), roles, admin_only, department):
                raise PermissionDenied(_("您没有执行此操作的权限"))
            return view(*args, **kwargs)

        wrapper.guard = {"roles": roles, "admin_only": admin_only, "department": department}  # type: ignore[attr-defined]
        return wrapper

    return decorate


@dataclass
class ListArgs:
    """``page``, ``size``, ``sort`` and the named filters of a list page's query string."""

    page: int = 1
    size: int = 20
    sort: str = ""
    filters: dict[str, str] = field(default_factory=dict)

    def query(self, **over) -> dict:
        """The query string of this list with ``over`` changed (for pager and sort links)."""
        q = {k: v for k, v in self.filters.items() if v}
        q.update(page=self.page, size=self.size)
        if self.sort:
            q["sort"] = self.sort
        q.update(over)
        return {k: v for k, v in q.items() if v not in ("", None)}

    def int_filter(self, name: str) -> int | None:
        raw = self.filters.get(name, "")
        if not raw:
            return None
        try:
            return int(raw)
        except ValueError:
            raise ValidationError({name: _("请输入数字")}) from None


def list_args(*filters: str, sort: str = "", size: int = 20) -> ListArgs:
    """Read a list page's arguments; nonsense (page 0, size 10,000) is a 400, not a silent fix."""
    try:
        page = int(request.args.get("page", 1))
        size = int(request.args.get("size", size))
    except ValueError:
        abort(400)
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        abort(400)
    return ListArgs(page, size, request.args.get("sort", sort).strip(),
                    {f: (request.args.get(f) or "").strip() for f in filters})


def decision() -> tuple[bool, str]:
    """A review form's button (``decision`` approve / reject) and its reason; anything else is a
    ValidationError on ``decision``. Whether a rejection needs its reason is the domain's call."""
    chosen = request.form.get("decision", "")
    if chosen not in ("approve", "reject"):
        raise ValidationError({"decision": _("请选择通过或驳回")})
    return chosen == "approve", (request.form.get("reason") or "").strip()


def review_post(decide: Callable[[object, bool, str], object], endpoint: str, approved: str | None = None,
                errors_of: Callable[[ValidationError], dict[str, str]] | None = None,
                **values) -> tuple[object | None, dict[str, str], str]:
    """A posted review form: ``decide(uow, approve, reason)`` committed, then the redirect to
    ``endpoint``; on refusal no redirect but the field errors and the reason typed, for the page
    to show again. Returns (response or None, errors, reason)."""
    reason = (request.form.get("reason") or "").strip()
    try:
        approve, reason = decision()
        with uow() as u:
            decide(u, approve, reason)
            u.commit()
    except ValidationError as e:
        return None, (errors_of or field_errors)(e), reason
    return done((approved or _("审核通过")) if approve else _("已驳回"), endpoint, **values), {}, reason


def form_values(*names: str) -> dict[str, str]:
    """The named fields of the posted form, stripped."""
    return {n: (request.form.get(n) or "").strip() for n in names}


def field_errors(e: ValidationError, labels: Mapping[str, str] | None = None) -> dict[str, str]:
    """The domain's messages by field, for the form; an error of no field goes under ``form``."""
    return {(k or "form"): v for k, v in e.errors.items()}


def act(change: Callable[..., object], *args, message: str, endpoint: str, **values) -> object:
    """One change by the signed-in user, ``change(uow, actor, *args)``, committed; then ``message``
    and the page ``endpoint`` (the POST of a button: delete, submit, disable...)."""
    with uow() as u:
        change(u, current_actor(), *args)
        u.commit()
    return done(message, endpoint, **values)


def done(message: str, endpoint: str, **values) -> object:
    """Flash ``message`` and go to ``endpoint`` (the post/redirect/get of every action)."""
    flash(message)
    return redirect(url_for(endpoint, **values))


def form_page(template: str, errors: Mapping[str, str], **context):
    """A form page, with status 400 when it carries errors (so tests and proxies see the refusal)."""
    return render_template(template, errors=errors, **context), (400 if errors else 200)


def uow():
    """The unit of work of the running platform."""
    return current_platform().uow()


# Pages are rendered after their unit of work is closed, so that it holds the database (on SQLite
# the one writer's lock: units of work begin IMMEDIATE) no longer than the reads take. What the
# page shows is detached first, so that closing the unit of work (a rollback when nothing was
# committed) does not expire it. Rendering itself opens none: the shell's facts are read with the
# signed-in user (web/shell.py shell_facts).

def detach(uow) -> None:
    """Keep what the view read usable once ``uow`` is closed (rows expired by a refused change
    are read again first)."""
    from sqlalchemy import inspect as sa_inspect

    for obj in list(uow.session):
        if sa_inspect(obj).expired_attributes:
            uow.session.refresh(obj)
    uow.session.expunge_all()


def later(uow, render: Callable, *args, **kwargs) -> Callable[[], object]:
    """``render(*args, **kwargs)`` to call once ``uow`` is closed, its objects detached."""
    from functools import partial

    detach(uow)
    return partial(render, *args, **kwargs)


@contextmanager
def reading() -> Iterator:
    """A unit of work for reading a page's rows, detached when it ends (see ``detach``)."""
    with uow() as u:
        try:
            yield u
        finally:
            detach(u)

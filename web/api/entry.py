"""POST /api/v1/certificates: entry of one certificate, or of up to 10,000 in one all-or-nothing request.

Request (JSON)::

    {"typeId": 3, "certificateHolder": "…", "certificateHolderCode": "…", "certificateNumber": "…",
     "surface": {"ENTNAME": "…", "dom": "…"}}                       # one certificate
    {"typeId": 3, "certificates": [{…}, {…}, …]}                    # a batch (at most 10,000)

Basic data items are given by the standard's interface names (certificateHolder, …; see
``certificates.API_NAMES``) or by our own (holder, …). The type's own fields go under ``surface``
(or ``values``): an object ``{columnName: value}``, or the list ``[{"columnName", "value"}]`` in
which the standard's GetCertificateData returns them.

Answers (the DB23/T 2836 envelope, see ``envelope``): 201 with ``data.dataList`` = one
``{index, id, certificateID, certificateNumber, status}`` per certificate in request order; 400
with ``data.rows`` = {index: {field: problem}} (index = position in ``certificates``, 0 for a
single certificate; the field named as the client spelled it) and nothing stored; 400 with
``data.errors`` for a problem with the request itself; 401, 403 (a type of another department),
404 (no such type), 409, 413 (body over ``server.max_upload_mb``), 415.

Every row is checked before anything is written: the shape here (objects, scalar values, no item
given twice under two names), then everything else by ``certificates.enter_many``, which checks
all rows before writing any. Rows with a shape problem are still passed on, without the bad
items, so one answer lists the problems of every row; the transaction is then not committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from flask import Response, abort, current_app, request
from sqlalchemy.exc import IntegrityError

from issuance import cert_types, certificates
from issuance.certificate_import import REQUEST_KEYS, is_field_problem, oversized_numbers
from issuance.certificates import API_NAMES, Entry
from issuance.errors import ValidationError
from issuance.models import TypeField

from ..app import current_platform
from . import bp, api_actor
from .envelope import fail, ok

MAX_BATCH = 10_000
TYPE_KEYS = ("typeId", "type_id")
VALUE_KEYS = ("surface", "values")
SCALAR = "a string, a number or null"


class RequestProblem(Exception):
    """The request as a whole is unusable (not its rows): answered 400 with ``data.errors``."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class Row:
    """One certificate of the request: what goes to ``enter_many`` and how to report its problems."""

    basic: dict[str, Any] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)   # our key -> key as the client wrote it
    errors: dict[str, str] = field(default_factory=dict)
    not_an_object: bool = False  # then its one problem says so; "required" for every item would be noise

    def report(self, key: str, problem: str, alias: bool = True) -> None:
        """First problem per field wins: the shape problem explains the service's "required" after it.

        ``alias`` is False for problems of the type's fields: a column may be called like a basic
        item (the business licence has a column ``name``), and its problem must not be reported
        under the basic item's interface name (see ``is_field_problem``).
        """
        self.errors.setdefault(self.names.get(key, key) if alias else key, problem)


def _is_scalar(v: Any) -> bool:
    return v is None or (isinstance(v, (str, int, float)) and not isinstance(v, bool))


def _parse_values(raw: Any, row: Row, key: str) -> None:
    if isinstance(raw, dict):
        pairs = list(raw.items())
    elif isinstance(raw, list):
        pairs = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict) or not isinstance(item.get("columnName"), str):
                row.report(f"{key}[{i}]", 'expected {"columnName": …, "value": …}')
                continue
            pairs.append((item["columnName"], item.get("value")))
    else:
        row.report(key, 'expected an object {columnName: value} or a list [{"columnName", "value"}]')
        return
    for column, value in pairs:
        if column in row.values:
            row.report(column, "given twice")
        elif not _is_scalar(value):
            row.report(column, f"expected {SCALAR}")
        else:
            row.values[column] = value


def parse_row(item: Any) -> Row:
    row = Row()
    if not isinstance(item, dict):
        row.report("certificate", "expected a JSON object")
        row.not_an_object = True
        return row
    given = [k for k in VALUE_KEYS if k in item]
    if len(given) > 1:
        row.report("surface", "give the field values once, under surface or under values")
    for key, value in item.items():
        if key in VALUE_KEYS:
            _parse_values(value, row, key)
            continue
        ours = API_NAMES.get(key, key)
        if ours in row.names:
            row.report(ours, f"given twice (as {row.names[ours]} and {key})")
            continue
        row.names[ours] = key
        if not _is_scalar(value):
            row.report(ours, f"expected {SCALAR}")
        else:
            row.basic[key] = value
    return row


def parse_request(body: Any) -> tuple[int, list[Row]]:
    """(type id, rows) of a request body, or RequestProblem; a single certificate is a one-row batch."""
    if not isinstance(body, dict):
        raise RequestProblem({"body": "expected a JSON object"})
    present = [k for k in TYPE_KEYS if k in body]
    type_id = body.get(present[0]) if len(present) == 1 else None
    if isinstance(type_id, str) and type_id.isdigit():
        type_id = int(type_id)
    if not isinstance(type_id, int) or isinstance(type_id, bool) or not 0 < type_id < 2**63:
        raise RequestProblem({"typeId": "the id of the certificate type (a positive whole number) is required once"})
    if "certificates" not in body:
        return type_id, [parse_row({k: v for k, v in body.items() if k not in TYPE_KEYS})]
    unknown = sorted(set(body) - {*TYPE_KEYS, "certificates"})
    if unknown:
        raise RequestProblem({k: "unknown parameter beside certificates" for k in unknown})
    items = body["certificates"]
    if not isinstance(items, list) or not items:
        raise RequestProblem({"certificates": "expected a non-empty list of certificates"})
    if len(items) > MAX_BATCH:
        raise RequestProblem({"certificates": f"at most {MAX_BATCH} certificates in one request "
                                              f"(this one has {len(items)})"})
    return type_id, [parse_row(item) for item in items]


def _read_body() -> Any:
    if not request.is_json:
        abort(415)
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and (request.content_length or 0) > limit:
        abort(413)  # refused before a byte of the body is read
    raw = request.get_data(cache=False)  # a chunked body over the limit raises 413 while read
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:  # also nesting deeper than 1024 and invalid UTF-8
        raise RequestProblem({"body": f"not valid JSON ({exc})"}) from None


def attach_problems(rows: list[Row], errors: dict[str, str], by_column: dict[str, TypeField]) -> dict[str, str]:
    """Hand ``enter_many``'s problems (``row N: key``, unprefixed for one row) to their rows.

    Returns the problems that concern the request rather than a row (an unapproved type).
    """
    request_level: dict[str, str] = {}
    for key, problem in errors.items():
        where, sep, rest = key.partition(": ")
        if sep and where.startswith("row ") and where[4:].isdigit() and 1 <= int(where[4:]) <= len(rows):
            row, key = rows[int(where[4:]) - 1], rest
        elif len(rows) == 1 and key not in REQUEST_KEYS:
            row = rows[0]
        else:
            request_level["typeId" if key == "type_id" else key] = problem
            continue
        if not row.not_an_object:
            row.report(key, problem, not is_field_problem(by_column, key, problem))
    return request_level


@bp.route("/certificates", methods=["POST"])
def enter_certificates() -> Response:
    """Enter drafts for the caller's department; see the module docstring for the contract."""
    try:
        type_id, rows = parse_request(_read_body())
    except RequestProblem as exc:
        return fail(400, "请求参数有误", {"errors": exc.errors})
    actor = api_actor()
    platform = current_platform()
    with platform.uow() as uow:  # leaving without commit rolls everything back
        ctype = cert_types.get(uow, actor, type_id)  # 404 for a type of another tenant
        fields = list(ctype.fields)
        by_column = {f.column_name: f for f in fields}
        for row in rows:
            for column, problem in oversized_numbers(fields, row.values).items():
                row.report(column, problem, alias=False)
                del row.values[column]  # never handed to the normaliser (see oversized_numbers)
        certs = None
        try:
            certs = certificates.enter_many(uow, actor, type_id, [Entry(r.basic, r.values) for r in rows])
        except ValidationError as exc:
            request_level = attach_problems(rows, exc.errors, by_column)
            if request_level:
                return fail(400, "请求参数有误", {"errors": request_level})
        except IntegrityError:
            # the database's uniqueness check behind enter_many's own (a number of a revoked
            # certificate, or the same numbers entered at the same moment): nothing stored
            return fail(409, "证照编号与已有证照冲突，未保存任何证照",
                        {"errors": {"certificateNumber": "already used by a certificate of this type"}})
        bad = {str(i): r.errors for i, r in enumerate(rows) if r.errors}
        if bad or certs is None:
            return fail(400, f"{len(bad)} 条证照数据有误，未保存任何证照", {"total": len(bad), "rows": bad})
        listed = [{"index": i, "id": c.id, "certificateID": c.identifier, "certificateNumber": c.number,
                   "status": c.status.value} for i, c in enumerate(certs)]
        uow.commit()
    return ok({"total": len(listed), "dataList": listed}, 201)

"""Issue 8, the whole journey in a real browser: a department's first user onboards it, defines a
certificate type, designs its face, registers its catalog, enters a certificate, has it reviewed
(rejected once at every review that allows it) and issued on the embedded chain, then anyone
verifies it through its QR code; every module's page is photographed on the way.

One server (module scope) on the DEFAULT ledger of ``certledger init`` (the embedded chain). Every
step goes through the UI; only the login accounts are made with the CLI (there is no page that
creates users). ``zhang`` onboards the department and so becomes its department admin, who may also
review entries and issuance (the reviewer ``lina`` exists - "li" is refused, user names have 3-64
characters - but no page grants a role, so the department's reviews are done by zhang). Three
browser contexts: zhang, admin, anonymous.

Throughout, nothing may leave the server, no page may log an error or throw, and no response may be
a 5xx; screenshots go to tests/browser/screenshots/journey-<module>.png.
"""

from __future__ import annotations

import io
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import ADMIN_PASSWORD, Watch, served, sign_in
from tests.helpers import valid_uscc

SCREENSHOTS = Path(__file__).with_name("screenshots")  # git-ignored (see its .gitignore)
PASSWORD = "Journey-pass-1"
DEPT = {"name": "哈尔滨市市场监督管理局", "code": "11230100MB0000009X", "region_code": "230100",
        "contact_name": "张伟", "contact_phone": "0451-88888888", "address": "哈尔滨市南岗区长江路 1 号"}
TYPE_NAME = "食品经营许可证"
TYPE_CODE = "11100000000013338W033"  # a type code of the TYPE_CODE format (A-Z and digits)
FIELDS = [("经营场所", "premises", "string"), ("成立日期", "founded", "date")]
# the columns first given (pinyin initials); the rejection asks for the names above. Renaming every
# column is also what lets the edit save: an edit that keeps a column name fails with a 500 (the
# new type_fields rows are inserted before the old ones are deleted: UNIQUE(type_id, column_name))
FIRST_COLUMNS = {"premises": "jycs", "founded": "clrq"}
HOLDER = "哈尔滨示例食品有限公司"
HOLDER_CODE = valid_uscc(8)  # 法人: a valid unified social credit code (holder type 01)
NUMBER = "JY12301000000088"
LONG = 60_000  # ms: issuance on the chain, the first page of a cold server


@pytest.fixture(scope="module")
def journey_server(tmp_path_factory):
    yield from served(tmp_path_factory.mktemp("journey") / "data", local=False, after_init=[
        ["user", "create", "zhang", "--password", PASSWORD, "--name", "张伟"],
        ["user", "create", "lina", "--password", PASSWORD, "--name", "李娜"],  # "li": too short (3-64)
    ])


def wait(page, selector: str, timeout: float | None = None):
    """``wait_for_selector``; a timeout fails with what the page shows instead (its errors)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        return page.wait_for_selector(selector, timeout=timeout)
    except PlaywrightTimeout:
        errors = page.locator(".field-error, .flash, h1").all_inner_texts()
        page.screenshot(path=str(SCREENSHOTS / "journey-FAILED.png"), full_page=True)
        raise AssertionError(f"{selector} did not appear on {page.url}; the page shows {errors}") from None


def nav(page, href: str, ready: str) -> None:
    """Open a page from the side navigation and wait for its content."""
    page.click(f".sidenav a[href='{href}']")
    wait(page, ready)


def shot(page, name: str, notes: list[str]) -> None:
    """A full-page screenshot, and a look at the text for what a page must never show."""
    page.wait_for_load_state("load")
    text = page.inner_text("body")
    for marker in ("{{", "{%", "}}", "Traceback", "jinja2", "Internal Server Error", "BuildError"):
        if marker in text:
            notes.append(f"{name}: page text shows {marker!r} ({page.url})")
    page.screenshot(path=str(SCREENSHOTS / f"journey-{name}.png"), full_page=True)


def state_of(page, selector: str) -> str:
    return page.get_attribute(f"{selector} .badge", "data-state") or ""


def id_in(url: str, pattern: str) -> int:
    m = re.search(pattern, urlsplit(url).path)
    assert m, f"{pattern} not in {url}"
    return int(m.group(1))


def test_issue_8_journey_from_onboarding_to_public_verification(journey_server, browser):
    base = journey_server
    SCREENSHOTS.mkdir(exist_ok=True)
    watch = Watch(base)
    notes: list[str] = []  # findings that are not failures (reported by the test's output)
    contexts = []

    def new_page():
        ctx = browser.new_context(locale="zh-CN", viewport={"width": 1360, "height": 900})
        ctx.set_default_timeout(20_000)
        contexts.append(ctx)
        pg = ctx.new_page()
        watch.attach(pg)
        return pg

    try:
        zhang, admin, anonymous = new_page(), new_page(), new_page()
        started = time.monotonic()

        # --- 1. zhang, in no department yet, applies for one (部门进驻 → 新增) -------------------
        sign_in(zhang, base, "zhang", PASSWORD)
        assert zhang.locator(".sidenav a[href='/types']").count() == 0  # no department: no maker pages
        nav(zhang, "/departments", "#department-list")
        zhang.click("#new-department")
        wait(zhang, "#department-form")
        for name, value in DEPT.items():
            zhang.fill(f"#department-form [name='{name}']", value)
        zhang.click("#submit")
        wait(zhang, "#department-status")
        dept_id = id_in(zhang.url, r"^/departments/(\d+)$")
        assert state_of(zhang, "#department-status") == "submitted"
        assert zhang.inner_text("#department-code") == DEPT["code"]

        # --- 2. admin approves the onboarding ---------------------------------------------------
        sign_in(admin, base, "admin", ADMIN_PASSWORD)
        nav(admin, "/departments", "#department-list")
        admin.click(f"#department-list tr[data-id='{dept_id}'] a.btn")
        wait(admin, "#review-form")
        admin.fill("#review-form #reason", "材料齐全，同意进驻")
        admin.click("#approve")
        wait(admin, "#department-status .badge[data-state='approved']")
        assert admin.locator("#review-form").count() == 0

        # --- 3. zhang, now the department's admin, defines a type with two fields ----------------
        zhang.reload()
        wait(zhang, "#department-status .badge[data-state='approved']")
        assert DEPT["name"] in zhang.inner_text("#user-menu summary")
        nav(zhang, "/types", "#types-list")
        zhang.click("#new-type")
        wait(zhang, "#type-form")
        zhang.fill("#type-form #name", TYPE_NAME)
        zhang.fill("#type-form #code", TYPE_CODE)
        zhang.select_option("#type-form #holder_type", "01")  # 统一社会信用代码 (法人)
        zhang.fill("#type-form #define_authority", "国家市场监督管理总局")
        rows = zhang.locator("#field-rows tr.field-row")
        blank = rows.count()
        zhang.click("#add-field")  # one more row, numbered after the others by static/types.js
        assert rows.count() == blank + 1
        first, added = rows.first, rows.last
        for row, (label, column, kind) in ((first, FIELDS[0]), (added, FIELDS[1])):
            row.locator("input[name$='-name']").fill(label)
            row.locator("input[name$='-column_name']").fill(FIRST_COLUMNS[column])
            row.locator("select[name$='-value_type']").select_option(kind)
            row.locator("input[name$='-required']").check()
        assert re.fullmatch(r"fields-\d+-name", added.locator("input[name$='-name']").get_attribute("name"))
        zhang.click("#type-form #submit")
        wait(zhang, "#type-status")
        type_id = id_in(zhang.url, r"^/types/(\d+)$")
        assert state_of(zhang, "#type-status") == "draft"
        assert zhang.locator("#type-fields #fields tbody tr").count() == 2
        zhang.click("#submit-review")
        wait(zhang, "#type-status .badge[data-state='submitted']")

        # --- 4. admin rejects the type with a reason; zhang edits and resubmits; admin approves ----
        reason = "字段名请使用英文：经营场所 premises，成立日期 founded；并请补充证照类型描述"
        nav(admin, "/types/review", "#type-review-list")
        admin.click(f"#type-review-list tr[data-id='{type_id}'] a.btn")
        wait(admin, "#review-form")
        admin.click("#reject")  # without a reason: refused next to the field (a 400 page, listed below)
        wait(admin, "#reason-error")
        admin.fill("#review-form #reason", reason)
        admin.click("#reject")
        wait(admin, "#type-review-list")
        assert admin.locator(f"#type-review-list tr[data-id='{type_id}']").count() == 0  # no longer waiting

        zhang.reload()
        wait(zhang, "#review-history")
        history = zhang.inner_text("#review-history")
        assert "驳回" in history and reason in history, history
        rejected_state = state_of(zhang, "#type-status")
        if rejected_state != "rejected":  # the type workflow sends a rejected type back to draft
            notes.append(f"types: a rejected type shows status {rejected_state!r} (草稿), not 已驳回; "
                         "the reason is only in #review-history")
        zhang.click("#edit")
        wait(zhang, "#type-form")
        zhang.fill("#type-form #description", "食品经营者的经营许可证照，含经营场所与成立日期。")
        for column, first_name in FIRST_COLUMNS.items():
            zhang.fill(f"#field-rows input[name$='-column_name'][value='{first_name}']", column)
        zhang.click("#type-form #submit")
        wait(zhang, "#type-status")
        zhang.click("#submit-review")
        wait(zhang, "#type-status .badge[data-state='submitted']")

        nav(admin, "/types/review", "#type-review-list")
        admin.click(f"#type-review-list tr[data-id='{type_id}'] a.btn")
        wait(admin, "#review-form")
        admin.click("#approve")
        wait(admin, "#type-review-list")
        zhang.reload()
        wait(zhang, "#type-status .badge[data-state='approved']")

        # --- 5. the face: drag a field from the palette, move it, save ----------------------------
        zhang.click("#design")
        wait(zhang, "#designer .el")
        column = FIELDS[1][1]
        default = zhang.locator(f"#designer .el[data-source='{column}']")
        if default.count():  # the default face lists every field: take it off, then drag it back
            default.first.click()
            zhang.click("#delete-element")
            zhang.wait_for_selector(f"#designer .el[data-source='{column}']", state="detached")
        before = zhang.locator("#designer .el").count()
        zhang.drag_and_drop(f"#palette [data-source='{column}']", "#designer", target_position={"x": 80, "y": 200})
        placed = zhang.locator(f"#designer .el[data-source='{column}']")
        placed.wait_for()
        assert zhang.locator("#designer .el").count() == before + 1
        dropped = (float(zhang.input_value("#prop-x")), float(zhang.input_value("#prop-y")))
        box = placed.bounding_box()
        zhang.mouse.move(box["x"] + 10, box["y"] + box["height"] / 2)
        zhang.mouse.down()
        zhang.mouse.move(box["x"] + 90, box["y"] + box["height"] / 2 + 60, steps=8)
        zhang.mouse.up()
        moved = (float(zhang.input_value("#prop-x")), float(zhang.input_value("#prop-y")))
        assert moved[0] > dropped[0] + 5 and moved[1] > dropped[1] + 5, (dropped, moved)
        zhang.click("#save")
        wait(zhang, "#design-status:has-text('已保存')")
        assert zhang.locator("#design-errors:visible").count() == 0 or not zhang.inner_text("#design-errors").strip()
        shot(zhang, "designer", notes)

        # --- 6. 注册: the catalog, shared publicly; admin approves it in 目录审核 -----------------
        zhang.click("#back")
        wait(zhang, "#type-status")
        zhang.click("#register")
        wait(zhang, "#catalog-form")
        zhang.check("#share-public")
        zhang.fill("#catalog-form #description", "向社会公示的食品经营许可证照目录")
        zhang.click("#catalog-form #submit")
        wait(zhang, "#catalog-status")
        catalog_id = id_in(zhang.url, r"^/catalogs/(\d+)$")
        assert state_of(zhang, "#catalog-status") == "submitted"
        assert zhang.inner_text("#catalog-share") == "社会公示"

        nav(admin, "/catalogs/review", "#catalog-review-list")
        admin.click(f"#catalog-review-list tr[data-id='{catalog_id}'] a.btn")
        wait(admin, "#review-form")
        admin.click("#approve")
        wait(admin, "#catalog-review-list")
        zhang.reload()
        wait(zhang, "#catalog-status .badge[data-state='approved']")

        # --- 7. 录入: a certificate of the type, submitted for review ------------------------------
        nav(zhang, "/entry", "#types")
        zhang.click(f"#new-{type_id}")
        wait(zhang, "#entry-form")
        assert zhang.input_value("#entry-form #name") == TYPE_NAME
        entry = {"holder": HOLDER, "holder_code": HOLDER_CODE, "number": NUMBER, "issue_date": "2024-03-01",
                 "valid_from": "2024-03-01", "valid_to": "2029-02-28", "f_premises": "哈尔滨市道里区中央大街 8 号",
                 "f_founded": "2019-02-03"}
        for name, value in entry.items():
            zhang.fill(f"#entry-form [name='{name}']", value)
        zhang.select_option("#entry-form #holder_type", "01")
        shot(zhang, "entry-form", notes)
        zhang.click("#entry-form #submit")
        wait(zhang, "#submit-review")
        cert_id = id_in(zhang.url, r"^/entry/(\d+)$")
        zhang.click("#submit-review")
        wait(zhang, f"#certificates tr[data-id='{cert_id}'][data-status='submitted']")

        # --- 8. 审核: reject once with a reason, edit and resubmit, approve, 发起签发, 开始签发 ------
        nav(zhang, "/issuing", "#review-list")
        row = f"#review-list tr[data-id='{cert_id}']"
        wait(zhang, f"{row}[data-status='submitted']")
        zhang.click(f"{row} .reject")
        wait(zhang, "#reject-form")
        zhang.fill("#reject-form #reason", "经营场所地址不完整，请补充门牌号")
        asked: list[str] = []
        zhang.once("dialog", lambda d: (asked.append(d.message), d.accept()))
        zhang.click("#confirm-reject")
        wait(zhang, "#review-list")
        assert asked == ["是否确认驳回证照签发请求？"], asked
        assert zhang.locator(row).count() == 0  # back to the maker (draft)

        zhang.goto(f"{base}/entry/{cert_id}/edit")
        wait(zhang, "#entry-form")
        zhang.fill("#entry-form [name='f_premises']", "哈尔滨市道里区中央大街 8 号 101 室")
        zhang.click("#entry-form #submit")
        wait(zhang, "#submit-review")
        zhang.click("#submit-review")
        wait(zhang, f"#certificates tr[data-id='{cert_id}'][data-status='submitted']")

        nav(zhang, "/issuing", "#review-list")
        zhang.click(f"{row} .approve")
        wait(zhang, f"{row}[data-status='approved']")
        shot(zhang, "issuing-review-list", notes)
        asked.clear()
        zhang.once("dialog", lambda d: (asked.append(d.message), d.accept()))
        zhang.click(f"{row} .start-issuance")
        wait(zhang, "#progress")
        assert asked == ["是否确认发起签发流程？"], asked
        section = f"#progress section.cert-progress[data-cert='{cert_id}']"
        wait(zhang, "#start:enabled")
        zhang.click("#start")
        wait(zhang, f"{section}[data-cert-status='effective']", timeout=LONG)
        steps = zhang.locator(f"{section} li.step")
        statuses = {steps.nth(i).get_attribute("data-step"): steps.nth(i).get_attribute("data-status")
                    for i in range(steps.count())}
        assert statuses and set(statuses.values()) <= {"done", "skipped"}, statuses
        assert statuses.get("anchor") == "done" and statuses.get("effective") == "done", statuses
        assert zhang.inner_text("#progress-message") == "签发完成"
        assert zhang.is_disabled("#start")  # nothing left to issue
        assert zhang.inner_text(f"{section} .cert-state .badge") == "已生效"  # issuing.js updates the text too
        assert "上链" in zhang.inner_text(f"{section} li.step[data-step='anchor']")  # the chain, not 本地存储
        shot(zhang, "issuing-progress", notes)

        # --- 9. 证照管理: the face and the ledger history -------------------------------------
        nav(zhang, "/certificates", "#certificates")
        zhang.click(f"#view-{cert_id}")
        wait(zhang, "#certificate[data-status='effective']")
        identifier = zhang.inner_text("#identifier").strip()
        assert identifier.startswith(f"1.2.156.3005.2.{TYPE_CODE}.{DEPT['code']}."), identifier
        with zhang.expect_response(lambda r: r.url.endswith(f"/certificates/{cert_id}/surface.png"),
                                   timeout=LONG) as surface_info:
            zhang.locator("#surface").scroll_into_view_if_needed()  # loading="lazy"
        surface = surface_info.value
        assert surface.status == 200 and surface.header_value("content-type") == "image/png"
        # a function run by Playwright (no eval in the page, which its CSP forbids)
        assert zhang.locator("#surface").evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
        wait(zhang, "#ledger-history tr[data-event='issue']")
        issue_rows = zhang.locator("#ledger-history tr[data-event='issue']:not(.waiting)").count()
        if not issue_rows:
            notes.append("certificates: the issue event is only waiting (等待上链) on the certificate page")
        assert zhang.locator("#ledger-mismatch").count() == 0
        shot(zhang, "certificates-view", notes)

        # --- 10. the QR code of the face opens the public verification page: 有效 ---------------
        import zxingcpp
        from PIL import Image

        png = zhang.context.request.get(f"{base}/certificates/{cert_id}/surface.png")
        assert png.ok
        codes = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.body())))
        qr = [c.text for c in codes if "/verify/" in c.text]
        assert qr, [c.text for c in codes]
        target = urlsplit(qr[0])
        assert target.path.endswith("/verify/" + identifier), qr[0]
        served_at = urlsplit(base)
        assert (target.scheme, target.netloc) == (served_at.scheme, served_at.netloc), qr[0]  # `serve --port`
        anonymous.goto(qr[0])
        wait(anonymous, "#verdict")
        assert "verdict-valid" in anonymous.get_attribute("#verdict", "class")
        assert anonymous.inner_text("#verdict .verdict-word") == "有效"
        assert anonymous.inner_text("#verified-identifier") == identifier
        assert anonymous.locator("#checks tr.check-fail").count() == 0
        assert anonymous.locator("#checks tr.check-ok").count() >= 1
        assert HOLDER not in anonymous.inner_text("#certificate-summary")  # masked for the public
        assert anonymous.locator("#user-menu").count() == 0  # nobody signed in
        shot(anonymous, "verify-result", notes)
        anonymous.goto(base + "/verify")
        wait(anonymous, "#lookup-form")
        shot(anonymous, "verify", notes)

        # --- 11. 数字证书 and 电子印章, made through the UI ------------------------------------
        nav(zhang, "/digital-certificates", "#certs-list")
        zhang.click("#new-cert")
        wait(zhang, "#cert-form")
        zhang.fill("#cert-form #name", "电子证照签章证书")
        zhang.click("#cert-form #submit")
        wait(zhang, "#cert-fingerprint")
        assert DEPT["name"] in zhang.inner_text("#cert-subject")
        shot(zhang, "digital-certificates-view", notes)
        nav(zhang, "/digital-certificates", "#certs-list")
        assert "电子证照签章证书" in zhang.inner_text("#certs-list")
        shot(zhang, "digital-certificates", notes)

        nav(zhang, "/seals", "#seals-list")
        zhang.click("#new-seal")
        wait(zhang, "#seal-form")
        assert zhang.locator("#no-certificate").count() == 0
        zhang.fill("#seal-form #name", "电子证照专用章")
        zhang.check("#generate")
        zhang.fill("#seal-form #bottom_text", "电子证照专用章")
        zhang.click("#seal-form #submit")
        wait(zhang, "#seal-viewer")
        seal_id = id_in(zhang.url, r"^/seals/(\d+)$")
        assert zhang.locator("#seal-viewer").evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
        zhang.click("#zoom-in")
        zhang.click("#rotate")
        assert zhang.get_attribute("#seal-viewer", "data-scale") != "1"
        assert zhang.get_attribute("#seal-viewer", "data-rotate") != "0"
        shot(zhang, "seals-viewer", notes)
        nav(zhang, "/seals", "#seals-list")
        wait(zhang, f"#thumb-{seal_id}")
        shot(zhang, "seals", notes)

        # --- 12. a screenshot of every module's page --------------------------------------------
        pages = [  # (who, name, path, what shows that it is there)
            (zhang, "home", "/", "#home-counts"),
            (zhang, "departments-onboarding", "/departments", "#department-list"),
            (zhang, "departments-view", f"/departments/{dept_id}", "#department-status"),
            (zhang, "departments-usage", "/departments/usage", "#usage-list"),
            (zhang, "departments-systems", "/departments/systems", "#system-list"),
            (zhang, "departments-usage-review", "/departments/usage-review", "#usage-review-list"),
            (zhang, "departments-records", "/departments/records", "#record-list"),
            (zhang, "types", "/types", "#types-list"),
            (zhang, "types-view", f"/types/{type_id}", "#review-history"),
            (zhang, "designer-view", f"/types/{type_id}/design/view", "#design-picture"),
            (zhang, "certificates", "/certificates", "#certificates"),
            (zhang, "certificates-annual", "/certificates/annual", "#annual-certificates"),
            (zhang, "catalogs-home", "/catalogs", "#catalog-list"),
            (zhang, "catalogs-view", f"/catalogs/{catalog_id}", "#catalog-status"),
            (zhang, "catalogs-manage", "/catalogs/manage", "#catalog-manage-list"),
            (zhang, "matters", "/matters", "#matters-list"),
            (zhang, "matters-uses", "/matters/uses", "#links-list"),
            (zhang, "matters-issues", "/matters/issues", "#links-list"),
            (zhang, "stats", "/stats", "#stats-totals"),
            (zhang, "issuing", "/issuing", "#review-list"),
            (zhang, "entry", "/entry", "#certificates"),
            (admin, "admin-home", "/", "#home-counts"),
            (admin, "certificates-maintenance", "/certificates/maintenance", "#certificates"),
            (admin, "certificates-process", f"/certificates/{cert_id}/process", "#process"),
            (admin, "catalogs-maintenance", "/catalogs/maintenance", "#catalog-maintenance-list"),
            (admin, "catalogs-review", "/catalogs/review?status=", "#catalog-review-list"),
            (admin, "types-review", "/types/review?status=", "#type-review-list"),
            (zhang, "users", "/users", "#users-list"),
            (admin, "users-admin", "/users", "#users-list"),
        ]
        for who, name, path, ready in pages:
            who.goto(base + path)
            wait(who, ready)
            if name == "stats":
                who.locator("[data-chart] canvas").first.wait_for()  # drawn by ECharts (no eval)
            if name == "designer-view":
                who.locator("#design-picture").evaluate("img => img.decode()")
            shot(who, name, notes)
        # what those pages must hold after the journey
        zhang.goto(base + "/certificates")
        wait(zhang, f"#certificates tr[data-id='{cert_id}']")
        admin.goto(f"{base}/certificates/{cert_id}/process")
        codes_done = admin.locator("#process [data-code]")
        assert codes_done.count() >= 1
        admin.goto(base + "/catalogs")
        assert TYPE_NAME in admin.inner_text("#catalog-list")
        # the same pages in English, by the switch in the top bar
        zhang.goto(f"{base}/certificates/{cert_id}")
        wait(zhang, "#ledger-history")
        zhang.click("text=English")
        wait(zhang, "text=Ledger records")
        assert "Basic information" in zhang.inner_text("main") and "账本记录" not in zhang.inner_text("main")
        assert "Certificate management" in zhang.inner_text(".sidenav")
        shot(zhang, "certificates-view-en", notes)
        zhang.click("text=中文")
        wait(zhang, "text=账本记录")

        elapsed = time.monotonic() - started
        print(f"\njourney took {elapsed:.1f} s (after the server started)")
        for note in notes:
            print("NOTE:", note)
        for e in watch.client_errors:
            print("4xx:", e)
        assert watch.outside == [], watch.outside
        assert watch.problems == [], watch.problems
        # the only refusals on the way: the reason-less rejection of step 4 (a 400 form page)
        expected = {f"400 POST {base}/types/{type_id}/review"}
        assert set(watch.client_errors) <= expected, watch.client_errors
        assert not [n for n in notes if "page text shows" in n], notes
    finally:
        for ctx in contexts:
            ctx.close()

"""照面设计 in a real browser: drag a data item from the palette onto the page, move it by dragging,
save, reload, and find it saved where it was dropped; the preview is the server's PNG.

Its own server (local ledger) with the demo's data: one department and its business licence type
(id 1) with the default design; the platform admin may design every type.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.browser.conftest import ADMIN_PASSWORD, Watch, served, sign_in

SCREENSHOTS = Path(__file__).with_name("screenshots")  # git-ignored (see its .gitignore)
SOURCE = "holder_code"  # a basic item the default design does not show


@pytest.fixture(scope="module")
def designer_server(tmp_path_factory):
    yield from served(tmp_path_factory.mktemp("designer") / "data", local=True, after_init=[["demo", "--count", "1"]])


def saved_design(page) -> dict:
    return json.loads(page.text_content("#designer-data"))["design"]


def test_drag_a_field_onto_the_face_move_it_save_and_find_it_there(designer_server, page, tmp_path):
    watch = Watch(designer_server)
    watch.attach(page)
    sign_in(page, designer_server, "admin", ADMIN_PASSWORD)

    page.goto(designer_server + "/types/1/design")
    page.wait_for_selector("#designer .el")
    before = page.locator("#designer .el").count()
    assert page.locator(f"#designer .el[data-source='{SOURCE}']").count() == 0
    assert not any(e.get("source") == SOURCE for e in saved_design(page)["elements"])

    # drag the palette item onto the page (HTML5 drag and drop)
    page.drag_and_drop(f"#palette [data-source='{SOURCE}']", "#designer", target_position={"x": 60, "y": 40})
    added = page.locator(f"#designer .el[data-source='{SOURCE}']")
    added.wait_for()
    assert page.locator("#designer .el").count() == before + 1
    assert "selected" in (added.get_attribute("class") or "")
    dropped = (float(page.input_value("#prop-x")), float(page.input_value("#prop-y")))

    # move it with the mouse (pointer events)
    box = added.bounding_box()
    page.mouse.move(box["x"] + 10, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 110, box["y"] + box["height"] / 2 + 80, steps=8)
    page.mouse.up()
    moved = (float(page.input_value("#prop-x")), float(page.input_value("#prop-y")))
    assert moved[0] > dropped[0] + 10 and moved[1] > dropped[1] + 10
    assert all(v * 2 == int(v * 2) for v in moved)  # snapped to 0.5 mm

    # style it in the inspector
    page.select_option("#prop-font", "kai")
    page.fill("#prop-size_pt", "16")
    page.dispatch_event("#prop-size_pt", "change")

    # a background picture, uploaded and shown under the elements
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (1188, 840), (253, 246, 227))
    ImageDraw.Draw(picture).rectangle((24, 24, 1163, 815), outline=(176, 141, 87), width=12)
    picture.save(tmp_path / "background.png")
    page.set_input_files("#background-upload", str(tmp_path / "background.png"))
    page.wait_for_selector("#canvas-background")
    assert page.get_attribute("#canvas-background", "src").startswith("/types/1/design/assets/")

    # the preview is the server's rendering
    page.click("#preview")
    page.wait_for_selector("#preview-image[src^='data:image/png']")
    assert page.is_visible("#preview-panel")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "designer.png"), full_page=True)

    page.click("#save")
    page.wait_for_selector("#design-status:has-text('已保存')")

    page.reload()
    page.wait_for_selector(f"#designer .el[data-source='{SOURCE}']")
    mine = [e for e in saved_design(page)["elements"] if e.get("source") == SOURCE]
    assert len(mine) == 1
    assert (mine[0]["box"]["x"], mine[0]["box"]["y"]) == moved
    assert mine[0]["style"]["font"] == "kai" and mine[0]["style"]["size_pt"] == 16
    assert page.locator("#designer .el").count() == before + 1
    assert saved_design(page)["background"].startswith("file:")
    page.wait_for_selector("#canvas-background")

    # 查看照面设计: the saved design rendered, read-only
    page.click("#view-design")
    page.wait_for_selector("#design-picture")
    assert page.locator("#design-picture").bounding_box()["width"] > 400
    assert watch.outside == [] and watch.problems == [] and watch.client_errors == []

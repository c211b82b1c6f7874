import pytest

from issuance import cert_types
from issuance.errors import ValidationError
from ofd.design import BASIC_ITEMS, DesignError, SurfaceDesign, default_for, parse
from tests.helpers import SAMPLE, approved_licence_type


def licence_columns():
    return [(f["columnName"], f["name"]) for f in SAMPLE["fields"]]


def test_default_design_round_trips_through_json():
    d = default_for(licence_columns())
    assert parse(d.to_json()) == d
    assert parse(SurfaceDesign.model_dump_json(d)) == d
    assert sum(e.kind == "qr" for e in d.elements) == 1 and any(e.kind == "seal" for e in d.elements)


@pytest.mark.parametrize("design, where", [
    ({"width": 10}, "width"),
    ({"elements": [{"kind": "field", "source": "x", "box": {"x": 0, "y": 0, "width": 0, "height": 5}}]},
     "elements.0.box.width"),
    ({"elements": [{"kind": "text", "text": "t", "box": {"x": 0, "y": 0, "width": 5, "height": 5},
                    "style": {"colour": "red"}}]}, "elements.0.style.colour"),
    ({"elements": [{"kind": "text", "text": "t", "box": {"x": 0, "y": 0, "width": 5, "height": 5},
                    "style": {"font": "comic"}}]}, "elements.0.style.font"),
    ({"elements": [{"kind": "hologram"}]}, "elements.0"),
    ({"elements": [{"kind": "qr", "x": 280, "y": 0}]}, "design"),
    ({"elements": [{"kind": "qr", "x": 0, "y": 0}, {"kind": "qr", "x": 50, "y": 0}]}, "design"),
    ({"background": "http://cdn.example/x.png"}, "background"),
    ({"elements": [{"kind": "image", "ref": "../../etc/passwd", "box": {"x": 0, "y": 0, "width": 5, "height": 5}}]},
     "elements.0.ref"),
    ({"colour": "#000000"}, "colour"),
])
def test_invalid_designs_name_the_place(design, where):
    with pytest.raises(DesignError) as e:
        parse(design)
    assert where in e.value.errors, e.value.errors


def test_unknown_json_is_refused():
    with pytest.raises(DesignError):
        parse("{not json")


def test_sources_are_checked_against_the_type():
    d = default_for(licence_columns())
    d.check_sources([c for c, _ in licence_columns()])
    with pytest.raises(DesignError, match="ENTNAME"):
        d.check_sources([])
    assert "identifier" in BASIC_ITEMS


def test_design_is_stored_on_the_type(world):
    t = approved_licence_type(world)
    design = default_for(licence_columns())
    with world.uow() as uow:
        cert_types.save_surface_design(uow, world.dept_admin, t.id, design.to_json())
        uow.commit()
    with world.uow() as uow:
        stored = cert_types.surface_design_of(cert_types.get(uow, world.clerk, t.id))
    assert stored == design
    bad = design.to_json()
    bad["elements"][1]["source"] = "no_such_column"
    with world.uow() as uow:
        with pytest.raises(ValidationError, match="no_such_column"):
            cert_types.save_surface_design(uow, world.dept_admin, t.id, bad)

"""Every charity endpoint documents itself: a summary, a description, and its problem responses."""

from services.charity.main import create_app


def test_every_endpoint_has_a_summary_a_description_and_problems():
    spec = create_app().openapi()
    undocumented = [
        (method, path)
        for path, operations in spec["paths"].items()
        if path.startswith("/api/")
        for method, op in operations.items()
        if not op.get("summary")
        or not op.get("description")
        or not any(code.startswith("4") for code in op.get("responses", {}))
    ]
    assert undocumented == []
    assert len(spec["paths"]) >= 40

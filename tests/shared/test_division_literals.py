"""No division code of the city is written out by hand: the codes come from the one tree (shared/divisions.py,
reading shared/data/divisions.csv). A literal copy goes stale when a division changes, as 百丈街道's code did
in 2016, and a wrong code hides a person from the staff responsible for them.

Only literals whose whole value is a code are looked for (a code inside an ID number or a credit code is part
of another identifier, and prose naming a code in a description is documentation). Tests may write codes out:
they state what the tree must hold."""

import ast
import re
from pathlib import Path

from shared import divisions

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("services", "gateway", "shared", "tools", "bench")
CODE = re.compile(r"3302\d{2}(\d{3}){0,2}")

# path (from the repository root) -> (the literal, why it is not a division code to take from the tree)
ALLOWED: dict[str, tuple[str, str]] = {}


def literals(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str | int)
            and not isinstance(node.value, bool)
            and CODE.fullmatch(str(node.value))
        ):
            yield node.lineno, str(node.value)


def test_no_division_code_is_written_out_outside_the_data_and_the_tests():
    found = []
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            for line, value in literals(path):
                if ALLOWED.get(relative, (None,))[0] != value:
                    found.append(f"{relative}:{line}: {value}")
    assert found == [], "take these codes from shared.divisions (division_code(name), CITY_CODE):\n" + "\n".join(found)


def test_the_scan_sees_a_code_in_a_literal(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('AREA = "330212008"\nPARTS = f"330212{1:03d}"\nID = "330212195207080032"\n', encoding="utf-8")
    assert [value for _, value in literals(sample)] == ["330212008", "330212"]


def test_the_tree_answers_by_name_and_follows_successors():
    assert divisions.city_code() == "330200"
    assert divisions.division_code("百丈街道") == "330212008"  # not 330212001, 下应街道
    assert divisions.division_code("下应街道") == "330212001"
    assert divisions.division_code("中马街道") == "330205001"  # a former name of 外滩街道
    assert divisions.current("330204001").code == "330212008"  # 江东区's 百丈街道 before 2016
    assert divisions.current("330204").name == "鄞州区"
    assert not divisions.is_current("330204") and divisions.is_current("330212")
    assert [d.name for d in divisions.districts()][:3] == ["海曙区", "江北区", "北仑区"]
    assert divisions.division_code("中山社区", within=divisions.division_code("鼓楼街道")) == "330203005005"

"""The production image installs the project's dependencies without the dev group (`uv sync --no-dev`), so code
that the processes run must import only what that installs. The first real container run (./dev rehearse) found
the bootstrap job importing a YAML library that only the dev tools had brought in."""

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What the images copy (deploy/Dockerfile): everything else (tests, bench, tools) runs from a developer's venv.
SHIPPED = ("shared", "services", "gateway")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _runtime_closure() -> set[str]:
    """The distributions `uv sync --frozen --no-dev` installs: the project's dependencies, followed through the lock."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    packages = {_normalise(p["name"]): p for p in lock["package"]}
    wanted, todo = set(), [("minzheng", ())]
    while todo:
        name, extras = todo.pop()
        key = (name, tuple(sorted(extras)))
        if key in wanted:
            continue
        wanted.add(key)
        package = packages[name]
        deps = list(package.get("dependencies", []))
        for extra in extras:
            deps += package.get("optional-dependencies", {}).get(extra, [])
        todo += [(_normalise(d["name"]), tuple(d.get("extra", ()))) for d in deps]
    return {name for name, _ in wanted}


def _imported_top_levels() -> dict[str, str]:
    """Each top-level module the shipped code imports (absolute imports), with one file that imports it."""
    found: dict[str, str] = {}
    for folder in SHIPPED:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.partition(".")[0], str(path.relative_to(ROOT)))
    return found


def test_shipped_code_imports_only_the_runtime_dependencies():
    runtime = _runtime_closure()
    distributions = importlib.metadata.packages_distributions()
    ours = set(SHIPPED) | {"alembic_migrations"}
    outside = {}
    for module, where in _imported_top_levels().items():
        if module in ours or module in sys.stdlib_module_names or module == "__future__":
            continue
        owners = {_normalise(d) for d in distributions.get(module, [])}
        assert owners, f"{where} imports {module}, which no installed distribution provides"
        if not owners & runtime:
            outside[module] = where
    assert not outside, f"imported by shipped code but installed only with the dev group: {outside}"

"""Nothing imports a layer above it (issue 9): every module's imports, read with `ast`, point down
the house (or stay in their own layer), and the product never imports the sandbox org."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "conversion_sync"

# Lowest first. A module may import its own layer and any below it, never one above.
LAYERS = ["errors", "sync", "settings", "store", "resources", "service", "assets", "jobs", "definitions", "cli"]
# conversion_sync.<first part> -> layer (a package and its modules share one layer).
LAYER_OF = {
    "__init__": "errors",        # the package's own warning filter, nothing else
    "errors": "errors",
    "sync": "sync",
    "config": "settings", "settings": "settings",
    "store": "store",
    "resources": "resources",
    "service": "service",
    "partitions": "assets", "assets": "assets",
    "jobs": "jobs",
    "definitions": "definitions",
    "cli": "cli", "cli_commands": "cli", "cli_text": "cli", "api": "cli", "runner": "cli",
}
# The sandbox org is its own distribution (sandbox/, package sandbox_org): no product module
# imports it, not even lazily (`conversion-sync sandbox` runs it as a program).
SANDBOX = ("sandbox_org", "conversion_sync.sandbox")


def product_modules() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if "sandbox" not in path.relative_to(PACKAGE).parts)


def layer_of_path(path: Path) -> str:
    first = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    if first not in LAYER_OF:
        pytest.fail(f"{path.relative_to(PACKAGE.parent)} is in no layer: add it to LAYER_OF in {Path(__file__).name}")
    return LAYER_OF[first]


def imported_names(tree: ast.AST, module: str) -> list[tuple[str, int, bool]]:
    """(dotted name, line, at top level) of every import, `from x import y` giving x.y too (y may
    be a module), relative imports resolved against `module`."""
    top_level = {id(node) for node in getattr(tree, "body", [])}
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(alias.name, node.lineno, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")[:-node.level]
                base = ".".join(parent + ([base] if base else []))
            names.append((base, node.lineno, id(node) in top_level))
            names += [(f"{base}.{alias.name}", node.lineno, id(node) in top_level) for alias in node.names]
    return names


def violations(path: Path, source: str | None = None) -> list[str]:
    source = source if source is not None else path.read_text(encoding="utf-8")
    relative = path.relative_to(PACKAGE.parent)
    module = ".".join(relative.with_suffix("").parts)
    own = LAYERS.index(layer_of_path(path))
    found: list[str] = []
    seen: set[tuple[int, str]] = set()
    for name, line, _top in imported_names(ast.parse(source), module):
        if any(name == root or name.startswith(root + ".") for root in SANDBOX):
            if (line, "sandbox") not in seen:
                seen.add((line, "sandbox"))
                found.append(f"{relative}:{line} imports the sandbox org ({name})")
            continue
        parts = name.split(".")
        if parts[0] != "conversion_sync" or len(parts) < 2 or parts[1] not in LAYER_OF:
            continue
        target = LAYER_OF[parts[1]]
        if LAYERS.index(target) > own and (line, parts[1]) not in seen:
            seen.add((line, parts[1]))
            found.append(f"{relative}:{line} ({LAYERS[own]}) imports {name} ({target}), a layer above")
    return found


@pytest.mark.parametrize("path", product_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_layer_above_it(path: Path) -> None:
    assert violations(path) == []


def test_the_check_sees_an_upward_import() -> None:
    """The test can fail: the runner's old home, service/, importing the definitions and jobs."""
    service = PACKAGE / "service" / "apply.py"
    old = ("def run_job():\n    from conversion_sync.definitions import defs\n"
           "    from conversion_sync.jobs.sensors import is_sync_run\n")
    found = violations(service, old)
    assert len(found) == 2 and "definitions" in found[0] and "jobs" in found[1]
    assert violations(PACKAGE / "store" / "lock.py", "from conversion_sync import resources\n")
    assert violations(PACKAGE / "sync" / "ids.py", "from sandbox_org.org import Org\n")
    assert violations(PACKAGE / "cli.py", "def sandbox():\n    import sandbox_org.cli\n")
    assert violations(PACKAGE / "assets" / "push.py", "from . import runtime\nfrom ..jobs import sensors\n")


def test_store_has_no_import_circle() -> None:
    """store/database -> migrations -> lock must not lead back to store/database."""
    store = {path.stem: path for path in (PACKAGE / "store").glob("*.py")}
    graph = {}
    for stem, path in store.items():
        targets = set()
        for name, _line, _top in imported_names(ast.parse(path.read_text(encoding="utf-8")), f"conversion_sync.store.{stem}"):
            parts = name.split(".")
            if parts[:2] == ["conversion_sync", "store"] and len(parts) > 2 and parts[2] in store:
                targets.add(parts[2])
        graph[stem] = targets

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), list(graph[start])
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo += graph.get(node, ())
        return False

    assert [stem for stem in graph if reaches(stem, stem)] == []

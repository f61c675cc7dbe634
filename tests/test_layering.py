"""Tests of the package's layering: the library stands under the CLI and apart from models/."""
import ast
from pathlib import Path

import reramsim

PACKAGE = Path(reramsim.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Every module name an ``import`` or ``from ... import`` in ``path`` names."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_library_imports_neither_the_cli_nor_models():
    """No library module imports reramsim.cli or the top-level models package."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "cli" or relative.name == "__main__.py":
            continue  # the command line and its entry point
        for name in imported_modules(path):
            if name.startswith("reramsim.cli") or name == "models" or name.startswith("models."):
                offenders.append(f"{relative}: {name}")
    assert not offenders, offenders

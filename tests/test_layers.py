"""Data flows one way: no module imports a stage later in the chain (DESIGN.md §2).

read -> map -> validate/store -> estimate -> indicators -> publish -> report/CLI. Every
``migdata`` import in the package, at module level or inside a function, is read from the source
(``ast``) and checked against the stage of the module it names. The definitions every stage
shares (errors, areas, kernels, the model's code lists, schema, specs, import report and privacy
rules) sit below the chain. One forward import is allowed, by name: the dataset hands its frame
and spec to the design (``HouseholdData.design``, which the analysis-frame issue asks for).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "migdata"

#: (prefix, stage): the longest matching prefix decides a module's stage.
STAGES = [
    ("migdata._version", 0), ("migdata.errors", 0), ("migdata.fileio", 0), ("migdata._kernels", 0),
    ("migdata.areas", 0), ("migdata.progress", 0), ("migdata.messages", 0),
    ("migdata.model.codes", 0), ("migdata.model.schema", 0), ("migdata.model.spec", 0),
    ("migdata.model.report", 0), ("migdata.model.privacy", 0), ("migdata.model.agegroups", 0),
    ("migdata.model", 0),  # the package's __init__ loads its names lazily
    ("migdata.readers", 1),
    ("migdata.profiles", 2),
    ("migdata.model.validate", 3), ("migdata.model.data", 3), ("migdata.model.frame", 3),
    ("migdata.model.database", 3), ("migdata.model.partitions", 3), ("migdata.streaming", 3),
    ("migdata.model.rounds", 3),  # rounds of the stored data; pool() builds a dataset of them
    ("migdata.importer", 3),
    ("migdata.survey", 4),
    ("migdata.indicators", 5),
    ("migdata.publish", 6),
    ("migdata.questionnaires", 7), ("migdata.sample", 7), ("migdata.report", 7), ("migdata.cell_progress", 7), ("migdata.summary", 7),
    ("migdata.demo", 7), ("migdata.cli", 7), ("migdata.notebooks", 7), ("migdata.__main__", 7),
]

ALLOWED = {("migdata.model.data", "migdata.survey.design")}


def _stage(module: str) -> int | None:
    best = None
    for prefix, stage in STAGES:
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, stage)
    return None if best is None else best[1]


def _modules() -> dict[str, Path]:
    out = {}
    for f in PACKAGE.rglob("*.py"):
        parts = f.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = f
    return out


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("migdata") \
                and node.level == 0:
            if node.module == "migdata":  # from migdata import x: x is a module or a top-level name
                found += [(f"migdata.{a.name}", node.lineno) for a in node.names]
            else:
                found.append((node.module, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.startswith("migdata.")]
    return found


def test_every_module_has_a_stage():
    missing = [m for m in _modules() if m != "migdata" and _stage(m) is None]
    assert not missing, f"give these modules a stage in STAGES: {missing}"


def test_no_module_imports_a_later_stage():
    forward = []
    for module, path in _modules().items():
        own = _stage(module)
        if own is None:
            continue
        for target, line in _imports(path):
            their = _stage(target)
            if their is not None and their > own and (module, target) not in ALLOWED:
                forward.append(f"{path.relative_to(PACKAGE.parent)}:{line} {module} -> {target}")
    assert not forward, "imports against the flow of data:\n" + "\n".join(forward)


def test_the_checker_sees_a_forward_import(tmp_path):
    # the rule must be able to fail: a reader that imports the indicator engine is caught
    f = tmp_path / "bad.py"
    f.write_text("def f():\n    from migdata.indicators.evaluate import compute\n", encoding="utf-8")
    [(target, line)] = _imports(f)
    assert (target, line) == ("migdata.indicators.evaluate", 2)
    assert _stage(target) > _stage("migdata.readers.cspro")


def test_validate_stays_the_function_after_its_module_is_imported():
    """``migdata.model.validate`` names a function and the module that holds it: importing the
    module (as the streaming import does) must not turn the package's name into the module."""
    import importlib

    importlib.import_module("migdata.model.validate")
    import migdata.streaming  # noqa: F401
    from migdata.model import validate

    assert callable(validate) and validate.__module__ == "migdata.model.validate"

"""The README's Python example runs as written (on the bundled sample data)."""

from __future__ import annotations

from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]


def test_readme_python_example_runs(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("```python\nimport migdata")
    code = text[start + len("```python\n"):]
    code = code[:code.index("```")]
    assert "merge(" not in code  # the one join lives in HouseholdData.frame, not in user code
    (tmp_path / "sample_data").symlink_to(ROOT / "sample_data")
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert (tmp_path / "tables.xlsx").exists() and (tmp_path / "my_dataset" / "manifest.json").exists()
    assert scope["survey"].spec.strata == ("stratum",) and len(scope["table"]) > 0

"""Every shipped notebook runs on the sample data without an error, and the copies stay in step.

Notebook 03 (the migration profile) runs in tests/test_demo.py through ``render_report``; here
notebooks 01 and 02 run on a small seeded sample (fast parameters: province level, by sex).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("papermill", reason="the notebook extras (papermill) are not installed")

from migdata.errors import MigdataError, render  # noqa: E402
from migdata.report import NOTEBOOKS, notebook_path, run_notebook  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    from migdata.sample import generate

    out = tmp_path_factory.mktemp("nbsample")
    generate(out, households=200, seed=5, dirty=True, survey=False, kobo=False)
    return out


def _outputs(nb) -> str:
    text = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            text.append(str(o.get("text", "")))
            text.append(str(o.get("data", {}).get("text/plain", "")))
    return "\n".join(text)


def test_notebook_01_imports_and_finds_every_planted_problem(sample, tmp_path):
    store = tmp_path / "store"
    nb = run_notebook("01_import_and_check.ipynb", {"sample_folder": str(sample), "store": str(store)},
                      cwd=tmp_path)
    assert (store / "manifest.json").exists()
    out = _outputs(nb)
    assert "Import report" in out
    # the dirty file's planted problems (listed by the sample generator) are all found
    import pandas as pd

    planted = pd.read_csv(sample / "dirty" / "planted_problems.csv", dtype=str)
    assert len(planted) > 0
    found_col = [c for c in nb.cells if "planted_csv" in c.get("source", "")][0]
    shown = "".join(str(o.get("data", {}).get("text/plain", "")) for o in found_col["outputs"])
    assert "False" not in shown and shown.count("True") == len(planted)


def test_notebook_02_writes_the_workbook(sample, tmp_path):
    from migdata.importer import import_files

    store = import_files(sorted(sample.glob("*.dat")), "cbms_2022_hpq").save(tmp_path / "store")
    xlsx = tmp_path / "t.xlsx"
    run_notebook("02_indicator_tables.ipynb", {"dataset": str(store), "level": "province", "by": ["sex"],
                                               "output": str(xlsx)}, cwd=tmp_path)
    from openpyxl import load_workbook

    wb = load_workbook(xlsx, read_only=True)
    assert "contents" in wb.sheetnames and "OF01" in wb.sheetnames


def test_a_failing_cell_is_a_located_error(tmp_path):
    with pytest.raises(MigdataError) as e:
        run_notebook("02_indicator_tables.ipynb", {"dataset": str(tmp_path / "missing")}, cwd=tmp_path)
    assert e.value.code == "MD804"
    assert "MD123" in e.value.message  # the store error raised inside the notebook
    assert e.value.message.startswith(render("MD804", name="02_indicator_tables.ipynb",
                                             cell=e.value.fields["cell"], detail="")[:40])


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_are_stored_without_outputs_and_match_their_py_pair(name):
    nb = json.loads(notebook_path(name).read_text(encoding="utf-8"))
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            assert c["outputs"] == [] and c["execution_count"] is None
    assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb["cells"])
    jupytext = pytest.importorskip("jupytext")
    pair = ROOT / "notebooks" / name.replace(".ipynb", ".py")
    if not pair.exists():
        pytest.skip("not a source checkout")
    src = [c.source for c in jupytext.read(pair).cells]
    assert [("".join(c["source"])) for c in nb["cells"]] == src


def test_repository_notebooks_folder_points_at_the_shipped_copies():
    for name in NOTEBOOKS:
        link = ROOT / "notebooks" / name
        if not link.exists():
            pytest.skip("not a source checkout")
        assert link.resolve() == notebook_path(name).resolve()


def test_missing_notebook_is_reported():
    with pytest.raises(MigdataError) as e:
        notebook_path("99_nothing.ipynb")
    assert e.value.code == "MD803"


def test_notebook_01_runs_with_another_profile(tmp_path):
    """Notebook 01 with a survey file and its profile: the bundled CBMS files are never imported
    with the user's profile (that cell used to fail for any profile but CBMS)."""
    from migdata.importer import import_files

    sav = ROOT / "sample_data" / "lfs_like_survey.sav"
    if not sav.exists():
        pytest.skip("not a source checkout")
    store = tmp_path / "store"
    nb = run_notebook("01_import_and_check.ipynb",
                      {"data_files": [str(sav)], "profile": "sample_survey", "store": str(store),
                       "sample_folder": str(sav.parent)}, cwd=tmp_path)
    out = _outputs(nb)
    assert "Import report" in out and "no planted problems to compare" in out
    # the saved dataset is the one the profile gives outside the notebook
    direct = import_files([sav], "sample_survey")
    from migdata.model.data import load

    again = load(store)
    assert again.provenance.profile == "sample_survey"
    assert len(again.persons) == len(direct.persons) and len(again.households) == len(direct.households)

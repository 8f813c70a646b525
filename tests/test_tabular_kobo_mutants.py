"""Seeded mutants of CSV files and Kobo/Excel workbooks (issue 16, items 3, 14, 16).

CSV: a stray quote no longer swallows the rest of the file: the line where it opens is rejected
(MD485, naming that line) and every later line is read; rows read = kept + rejected = the data
lines counted here by hand. Workbooks: two columns of one header, damaged XML or a damaged zip
member are located MD errors, never a crash.
"""

from __future__ import annotations

import csv
import random
import zipfile
from pathlib import Path

import pytest

from conftest import REALDATA
from migdata.cli import main
from migdata.errors import DataError, render
from migdata.readers import kobo, tabular

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "migdata" / "profiles" / "examples" / "pagsanjan_household_survey_2024.csv"
KOBO = ROOT / "sample_data" / "kobo"
FIES = REALDATA / "ph" / "fies" / "fies2015_kaggle_subset_IVB_MIMAROPA.csv"


def _bases() -> list[tuple[Path, int]]:
    """(CSV file, line of its header): the bundled example, and a real file when present."""
    out = [(EXAMPLE, 3)]
    if FIES.exists():
        out.append((FIES, 1))
    return out


@pytest.mark.parametrize("seed", range(8))
def test_stray_quotes_reject_one_line_each_and_every_line_is_counted(seed, tmp_path):
    rng = random.Random(seed)
    for base, header in _bases():
        lines = base.read_text(encoding="utf-8").splitlines()
        data = list(range(header, len(lines)))  # 0-based indexes of the data lines
        bad = sorted(rng.sample(data, rng.randrange(1, 4)))
        for i in bad:
            fields = next(csv.reader([lines[i]]))
            j = rng.randrange(len(fields))
            fields[j] = '"' + fields[j].replace('"', "")  # opens a quote that is never closed
            lines[i] = ",".join(fields)
        f = tmp_path / f"{base.stem}_{seed}.csv"
        f.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tables, cb = tabular.read_csv(f, header_row=header)
        # hand count: non-blank lines after the header
        n_data = sum(1 for ln in lines[header:] if ln.strip(", \t"))
        c = cb.report.counts[f.stem]
        assert c["read"] == n_data and c["kept"] + c["rejected"] == c["read"], (c, n_data)
        # each stray quote rejects exactly its own line, named in an MD485 problem ...
        quoted = [p.source_row for p in cb.report.problems if p.code == "MD485"]
        rejected = {p.source_row for p in cb.report.problems if p.action == "rejected"}
        assert set(quoted) <= {i + 1 for i in bad} and {i + 1 for i in bad} <= rejected
        # ... and the other lines are all kept, in order
        kept = tables[f.stem]["_source_row"].tolist()
        assert kept == [i + 1 for i in data if i not in bad and lines[i].strip(", \t")]


def test_the_message_names_the_line_where_the_quote_opens(tmp_path):
    f = tmp_path / "q.csv"
    f.write_text('id,name,age\n1,Ana,30\n2,"Ben,41\n3,Cy,22\n4,Di,19\n5,Ed,50\n')
    tables, cb = tabular.read_csv(f)
    assert tables["q"]["id"].tolist() == ["1", "3", "4", "5"]
    [p] = cb.report.problems
    assert p.message == render("MD485", file=str(f), row=3, detail="it runs to the end of the file")
    # a quoted value with a real line break still reads as one row
    g = tmp_path / "ok.csv"
    g.write_text('id,address\n1,"12 Rizal St\nPagsanjan"\n2,plain\n')
    tables, cb = tabular.read_csv(g)
    assert tables["ok"]["address"].tolist() == ["12 Rizal St\nPagsanjan", "plain"]
    assert not cb.report.problems


def test_a_quote_swallowing_more_than_the_csv_field_limit(tmp_path):
    # the csv module refuses a field of more than 131,072 characters: that line is rejected too
    body = "".join(f"{i},x{'y' * 200}\n" for i in range(2, 1200))
    f = tmp_path / "big.csv"
    f.write_text('id,v\n1,"open\n' + body)
    tables, cb = tabular.read_csv(f)
    c = cb.report.counts["big"]
    assert c == {"read": 1199, "kept": 1198, "rejected": 1}
    assert [p.source_row for p in cb.report.problems] == [2]


def test_extreme_numbers_in_csv_integer_columns_are_handed_on_as_text(tmp_path):
    values = ["inf", "-inf", "Infinity", "1e308", "-1e308", "1e309", "1e12", "12345678901234567890", "nan"]
    f = tmp_path / "n.csv"
    f.write_text("id,age\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values, 1)))
    tables, cb = tabular.read_csv(f)
    assert tables["n"]["age"].tolist() == values  # the profile decides what they mean
    assert cb.report.counts["n"] == {"read": 9, "kept": 9, "rejected": 0}


# -- workbooks --------------------------------------------------------------------------------------

def _rewrite(src: Path, dst: Path, change) -> None:
    with zipfile.ZipFile(src) as z:
        members = [(i, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in members:
            z.writestr(info.filename, change(info.filename, data))


def test_two_columns_of_one_header_is_md466(tmp_path):
    import openpyxl

    wb = openpyxl.load_workbook(KOBO / "overseas_filipino_survey.xlsx")
    ws = wb.worksheets[0]
    first = ws.cell(row=1, column=2).value
    ws.cell(row=1, column=5).value = first
    f = tmp_path / "dup.xlsx"
    wb.save(f)
    with pytest.raises(DataError) as e:
        kobo.read_kobo_xlsx(f)
    assert e.value.code == "MD466" and e.value.fields["column"] == first
    assert e.value.fields["first"] == "B" and e.value.fields["second"] == "E"


PROFILES = {"overseas_filipino_survey": "kobo_of_survey", "children_left_behind_survey": "kobo_clb_survey",
            "cbms_migration_rider": "kobo_cbms_rider"}


@pytest.mark.parametrize("seed", range(3))
def test_seeded_damaged_workbooks_are_located_errors(seed, tmp_path, capsys):
    rng = random.Random(seed)
    refused = 0
    for src in sorted(KOBO.glob("*.xlsx")):
        for _ in range(2):
            kind = rng.choice(["truncate xml", "junk xml", "drop member", "flip bytes"])
            dst = tmp_path / f"{src.stem}_{kind.replace(' ', '_')}.xlsx"
            if kind == "flip bytes":  # damage the compressed bytes: a zip CRC or inflate error
                raw = bytearray(src.read_bytes())
                for _ in range(20):
                    k = rng.randrange(len(raw) // 4, len(raw) // 2)
                    raw[k] ^= 0xFF
                dst.write_bytes(bytes(raw))
            else:
                with zipfile.ZipFile(src) as z:
                    sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
                victim = rng.choice(sheets + ["xl/sharedStrings.xml", "xl/workbook.xml"])

                def change(name, data, victim=victim, kind=kind):
                    if name != victim:
                        return data
                    if kind == "truncate xml":
                        return data[: rng.randrange(1, max(2, len(data) - 1))]
                    if kind == "junk xml":
                        k = rng.randrange(len(data))
                        return data[:k] + b"<<&junk>" + data[k:]
                    return data
                if kind == "drop member":
                    with zipfile.ZipFile(src) as z, zipfile.ZipFile(dst, "w") as out:
                        for n in z.namelist():
                            if n != victim:
                                out.writestr(n, z.read(n))
                else:
                    _rewrite(src, dst, change)
            for reader in (kobo.read_kobo_xlsx, tabular.read_excel):
                try:
                    reader(dst)
                except DataError as e:
                    assert e.code in ("MD462", "MD484", "MD466", "MD465", "MD464", "MD460", "MD002"), e.message
                    assert str(dst) in e.message
                    refused += 1
            with pytest.raises(SystemExit) as ex:
                main(["import", str(dst), "--profile", PROFILES[src.stem], "--out", str(tmp_path / "o"),
                      "--force"])
            out = capsys.readouterr()
            assert ex.value.code in (0, 1, 2) and "Traceback" not in out.err, (kind, out.err)
            assert "Internal error" not in out.err, (kind, out.err)
    assert refused > 0  # the damage is real: some workbooks cannot be read


def test_extreme_numbers_in_spss_integer_columns_are_handed_on(tmp_path):
    import math

    import numpy as np
    import pandas as pd
    import pyreadstat

    from migdata.readers import stats

    values = [30.0, math.inf, -math.inf, 1e308, -1e308, 1e12, 12345678901234567890.0, np.nan]
    pyreadstat.write_sav(pd.DataFrame({"age": values, "line_no": range(1, 9)}), tmp_path / "x.sav",
                         missing_ranges={"age": [{"lo": 98, "hi": 99}]})
    tables, cb = stats.read_spss(tmp_path / "x.sav")
    got = tables["x"]["age"].tolist()
    assert got[:7] == values[:7] and math.isnan(got[7])  # the profile decides what they mean
    assert cb.report.counts["x"] == {"read": 8, "kept": 8, "rejected": 0}

# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. Import files and check them
#
# This notebook imports data files into a migdata **dataset** (a folder of tables that the
# other notebooks and `migdata report` read), then reads the **import report**: every problem
# found, with the file, line, column and value, what rule it breaks and what was done.
#
# It runs on the bundled sample data (a CBMS 2022 file). To use your own files, change
# `data_files` and `profile` in the next cell (`migdata profiles` lists the profiles): any
# profile works, e.g. `lfs_puf_2022` with a Labor Force Survey public use file and its `.dcf`.

# %% tags=["parameters"]
# data_files: your files (an empty list means the bundled sample data)
data_files = []
profile = "cbms_2022_hpq"
# store: the dataset folder to write
store = "store"
sample_folder = "sample_data"

# %%
from pathlib import Path

import pandas as pd
from IPython.display import display

import migdata
from migdata.demo import ensure_sample

pd.set_option("display.max_colwidth", 120)
sample = ensure_sample(sample_folder)
files = [Path(f) for f in data_files] or sorted(sample.glob("*.dat"))
files

# %% [markdown]
# ## Import
#
# `import_files` reads the files with the reader the profile names (for CSPro files, the
# dictionary beside the data), checks that the files fit the profile (their layout, the items it
# maps, their value sets), maps every item onto the tidy model (codes, areas, countries) and
# checks the result. Names, addresses, phone numbers and GPS are dropped unless you ask to keep
# them. The round comes from the data when the profile maps it (pass `period="..."` to set it).

# %%
data = migdata.import_files(files, profile)
data

# %%
print(data.report.summary())

# %% [markdown]
# Nothing is lost silently: for every table, rows read = rows kept + rows rejected.

# %%
data.report.check_balance()
pd.DataFrame(data.report.counts).T

# %%
print("rounds:", ", ".join(data.provenance.rounds) or "not recorded", "| period:", data.provenance.period)
data.save(store, force=True)

# %% [markdown]
# ## A file with problems
#
# The bundled sample includes a small file with planted problems (`dirty/`), listed in
# `planted_problems.csv`. Import it and compare what the import report found with what was
# planted. With your own files, the rest of this notebook reads their own import report.

# %%
dirty_dir = sample / "dirty"
dirty_files = sorted(dirty_dir.glob("*.dat")) if not data_files else []
if dirty_files:
    dirty = migdata.import_files(dirty_files, profile)
    print(dirty.report.summary(max_problems=5))
else:
    print("The rest of this notebook reads the import report of the files imported above.")
    dirty, dirty_dir, dirty_files = data, Path(files[0]).parent, files

# %% [markdown]
# Every problem is a row: the source file and line, the column, the value, the rule (a stable
# code, e.g. MD504) and the action taken (*rejected*: the row was left out; *set_missing*: the
# value was blanked and the row kept).

# %%
problems = dirty.report.to_frame()
problems[["code", "rule", "table", "source_row", "column", "value", "action"]].head(20)

# %%
by_rule = problems.groupby(["code", "rule", "action"]).size().rename("problems").reset_index()
by_rule

# %% [markdown]
# ### Did it find what was planted?

# %%
planted_csv = dirty_dir / "planted_problems.csv"
if planted_csv.exists():
    planted = pd.read_csv(planted_csv, dtype=str)
    found_codes = set(problems["code"])
    planted["found"] = planted["expected_code"].isin(found_codes)
    display(planted[["problem", "expected_code", "file_line", "item", "value", "found"]])
else:
    print("no planted problems to compare")

# %% [markdown]
# ## Find a problem in the source file and fix it
#
# The report gives the file and line of every problem, so you can open the file at that line
# (any text editor shows line numbers) and correct it from the paper questionnaire or with the
# enumerator. The notebook does not print the source lines themselves: they hold names and
# addresses, which must not end up in a notebook that is shared.

# %%
located = problems[problems["source_row"].notna()]
for _, p in located.head(5).iterrows():
    print(f"{Path(str(p['source_file'])).name}, line {int(p['source_row'])}: {p['message']}\n")

# %% [markdown]
# After correcting the file, import it again. To make any remaining problem stop the import
# instead of being reported, use `policy="strict"`; to leave out every row with a problem, use
# `policy="reject"`:
#
#     data = migdata.import_files(files, profile, policy="reject")
#
# The dataset keeps its import report: `migdata validate STORE` prints it again later.

# %%
again = migdata.load(store)
print(again)
print(f"{len(again.report.problems)} problem(s) in the saved import report")

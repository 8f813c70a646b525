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
# # 2. Indicator tables for the plan
#
# This notebook computes the migration indicators of a dataset (made by notebook 1 or
# `migdata import`) and writes them to an Excel workbook: one sheet per indicator, areas down,
# sex and age groups across, with reliability flags and hidden cells marked.
#
# Choose the **area level** (region, province, city, barangay: every level above is added) and
# the **disaggregations** (`sex`, `age_group`, `urban_rural`, `migratory_status`,
# `hh_migratory_status`, ...).

# %% tags=["parameters"]
dataset = "store"
level = "city"
by = ["sex", "age_group"]
age_scheme = "broad"
# ids: None = every indicator the dataset supports; or a list such as ["OF01", "HH01"]
ids = None
# k: disclosure threshold for complete counts: no published count lies in 1..k-1 (cell-key method)
k = 3
output = "indicators.xlsx"

# %%
import migdata
from migdata.indicators import availability
from migdata.publish.excel import write_workbook

data = migdata.load(dataset)
data

# %% [markdown]
# ## Which indicators can this dataset support?

# %%
avail = availability(data, ids)
avail["status"].value_counts()

# %%
avail[avail["status"] != "computable"][["indicator_id", "name", "reason"]]

# %% [markdown]
# ## Compute

# %%
# migdata.compute: the published tables (disclosure control applied), the same cells as the
# workbook, the CLI and the report
table = migdata.compute(data, ids=ids, level=level, by=by, age_scheme=age_scheme, k=k)
print(f"{len(table):,} rows, {table['indicator_id'].nunique()} indicators")
table.head()

# %% [markdown]
# One indicator, one area, by sex: households with an overseas Filipino (HH01) has no sex
# split (it counts households); OF01 (overseas Filipinos) has.

# %%
one = table[(table["indicator_id"] == "OF01") & (table["area_level"] == "region")]
one[[c for c in ["area_name", *by, "estimate", "n", "flag", "suppressed"] if c in one.columns]].head(12)

# %% [markdown]
# How many cells have no value? Complete counts are perturbed, not suppressed (cell-key method): only a median or ratio whose published base is too small is hidden (`small base`), and survey estimates too unreliable to publish (`reliability`).

# %%
table.groupby("area_level")["suppressed"].agg(["sum", "size"]).rename(columns={"sum": "suppressed", "size": "cells"})

# %% [markdown]
# ## Write the workbook

# %%
path = write_workbook(table, output)
print(f"Wrote {path}")

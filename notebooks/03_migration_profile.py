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

# %% [markdown] tags=["remove_cell"]
# # Local migration profile (notebook 03)
#
# This notebook writes the migration profile of **one area**: a region, province,
# city/municipality or barangay. Set the parameters in the next cell and run all cells
# (*Run → Run All Cells*), or let migdata run it for you:
#
#     migdata report DATASET --area 0403400000 --out laguna.html
#
# - `dataset`: the dataset folder made by notebook 1, `migdata import` or `migdata demo`
#   (the default, `store`, is what notebook 1 writes beside it);
# - `area`: the 10-digit PSGC code of the area (`migdata areas search Laguna` finds it);
# - `output_dir`: where the charts (PNG) and the numbers behind them (CSV) are saved;
# - `area_maps`: draw the maps and bars of the areas one level down (`False` leaves them out,
#   e.g. to time a report without them).
#
# Cells tagged `remove_cell` (like this one) and all code are left out of the HTML report.

# %% tags=["parameters"]
dataset = "store"
area = "0400000000"
output_dir = "report_files"
area_maps = True

# %%
# %matplotlib inline
from pathlib import Path

import pandas as pd
from IPython.display import HTML, Markdown, display

import migdata
from migdata import report as R
from migdata.publish import charts, maps

pd.set_option("display.max_colwidth", 200)
out = Path(output_dir)
out.mkdir(parents=True, exist_ok=True)
# The profile's numbers are rows of the published indicator tables of the whole dataset (the
# same cells as the Excel workbook): an area's figures are domain estimates, never a subset.
data = migdata.load(dataset, lazy=True)  # a partitioned store is not read whole
P = R.MigrationProfile.from_dataset(data, area)
A = P.area
SOURCE = P.source        # for chart source lines (drawn as text); P.source_of(ind): one stream
SRC = R.plain(SOURCE)    # names and labels from data, profiles or manifests never become markup
NAME = R.plain(A.name)
saved = []


def show(df: pd.DataFrame, columns: dict | None = None) -> None:
    """A table without the index, columns renamed for readers."""
    t = df.rename(columns=columns or {})
    display(HTML(t.to_html(index=False, border=0, classes="profile-table", na_rep="–")))


def chart(fig, name: str) -> None:
    """Save the chart as PNG beside the report and show it with its title as alt text."""
    path = out / f"{name}.png"
    charts.save(fig, str(path))
    saved.append(path)
    display(HTML(R.img_tag(path, charts.title(fig))))


def note(text: str) -> None:
    """Markdown written here; every piece of it that comes from data goes through R.plain."""
    display(Markdown(text))


display(HTML(R.REPORT_CSS))

# %%
where = R.plain(", ".join(reversed(list(P.area.parent_names.values())))) if A.parents else ""
used = [R.plain(d) for d in P.data_used()]   # the streams and rounds, one line each
note(f"# Migration profile: {NAME}\n\n"
     f"**{A.level_name.capitalize()}**{' in ' + where if where else ''} · PSGC {R.plain(A.code)}  \n"
     f"Report made with migdata {migdata.__version__} on {pd.Timestamp.now():%d %B %Y}.\n\n"
     + (f"**Data:** {used[0]}" if len(used) == 1 else
        "**Data:** this report draws on " + f"{len(used)} datasets:\n\n" + "\n".join(f"- {d}" for d in used)))
note(R.reading_guide(P))

# %% [markdown]
# ## 1. Headline numbers

# %%
head = P.headline()
show(head)
head.to_csv(out / "headline.csv", index=False)

# %% [markdown]
# ## 2. Overseas Filipinos by sex and age
#
# Overseas Filipinos (OFs) are household members aged 15 and over who are abroad for work,
# study or a visit (the roster's overseas-Filipino item: CBMS B06, LFS C08). The chart compares
# their ages with those of the household population aged 15 and over: bars show each group as a
# percentage of its own total.

# %%
of, pop = P.pyramid()
n_of = P.of_total()
if n_of == 0:
    note(f"_No overseas Filipinos can be shown for {NAME}._")
elif of["estimate"].notna().any():
    chart(charts.population_pyramid(
        of, pop, title=f"Overseas Filipinos and household population 15+ by sex and age, {A.name}",
        source=SOURCE, labels=("Overseas Filipinos", "Household population 15+"), as_share=False,
        unit="Percent of each group", note=R.suppression_note(of)), "pyramid")
    of.to_csv(out / "overseas_by_sex_age.csv", index=False)
else:
    note("_Every cell by sex and age is hidden in this area (too few overseas Filipinos in each)._")

# %% [markdown]
# ## 3. Where overseas Filipino workers are
#
# Share of the area's OFWs working in each country (the country item of the source, e.g.
# CBMS B09), the ten most common countries.

# %%
dest = P.destinations(top=10)
if len(dest):
    chart(charts.bar_chart(dest, category="country", title=f"OFWs by country of work, {A.name}",
                           unit="% of OFWs", source=P.source_of("OF05"), sort=False), "destinations")
    dest.to_csv(out / "destinations.csv", index=False)
else:
    note("_Too few OFWs in this area to show countries without singling out persons._")

# %% [markdown]
# ## 4. Households with members abroad and households receiving cash from abroad
#
# How this area compares with the areas it belongs to. Cash from abroad is the household's
# cash receipts, gifts and other assistance from abroad in the past 12 months (CBMS H3G).

# %%
cmp = P.comparison()
if cmp["area_code"].nunique() > 1:
    chart(charts.comparison_chart(cmp, measure="name", title=f"Migrant households: {A.name} compared",
                                  unit="% of households",
                                  source="; ".join(dict.fromkeys(map(P.source_of, R.COMPARE_IDS)))),
          "comparison")
show(R.display_rows(cmp, label="area_name", k=P.k), {"area_name": "Area"})
cmp.to_csv(out / "comparison.csv", index=False)

# %%
# The areas one level down (the provinces of a region, the cities and municipalities of a
# province, the barangays of a city or municipality): a map of each measure, then the areas
# whose number can be shown, highest first. Both draw the published rows (P.sub_areas): the
# same cells as the tables above and the workbook.
MAPPED = R.MAP_IDS if area_maps else []
if any(len(P.sub_areas(i)) for i in MAPPED):
    note(f"### {maps.LEVEL_WORDS[P.below][1].capitalize()} of {NAME}\n\n"
         "Each map shows the areas in classes from light (low) to dark (high). Hatched areas are "
         "hidden: too few households to publish, or a survey estimate too unreliable. White areas "
         "have no data. The bars below each map rank the areas whose number can be shown.")
for ind in MAPPED:
    subs = P.sub_areas(ind)
    if subs.empty:
        continue
    many = maps.LEVEL_WORDS[P.below][1]
    fig = charts.choropleth(subs, ind, P.below, P.map_area, source=P.source_of(ind))
    if maps.drawn_areas(fig):
        chart(fig, f"map_{ind}")
    else:
        note(f"_migdata has no boundaries of the {many} of {NAME} to draw a map; "
             "`migdata map --boundaries FILE` draws one from your own GeoJSON or shapefile._")
    chart(charts.area_bars(subs, ind, P.below, P.map_area, source=P.source_of(ind)), f"areas_{ind}")
    subs.to_csv(out / f"areas_{ind}.csv", index=False)

# %% [markdown]
# ## 5. Uses of remittances

# %%
uses = P.remittance_uses()
if uses is not None and len(uses):
    chart(charts.remittance_uses(uses, title=f"Uses of remittances, {A.name}", source=P.source_of("RM08")),
          "remittance_uses")
    uses.to_csv(out / "remittance_uses.csv", index=False)
else:
    note("_This dataset does not say how remittances are used: household rosters (CBMS, the LFS) "
         "do not ask it. "
         "The overseas Filipino survey and the CBMS migration rider (see `questionnaires/`) "
         "collect it; import them to fill this section._")
r = P.get("RM03")
if r is not None:
    note(f"Households that received cash from abroad received on average **{R.fmt_value(r)}** "
         f"in the past 12 months ({R.fmt_reliability(r, P.k)}).")

# %% [markdown]
# ## 6. Overseas Filipinos: work, earnings, remittances, savings and plans
#
# From the survey of overseas Filipinos when the database has it (respondents drawn from the
# CBMS list of overseas Filipinos, weighted to the CBMS counts): occupations and earnings abroad,
# how and at what cost money is sent, savings, businesses and investments, recruitment costs,
# return intentions and membership in associations.

# %%
OF_IDS = ["OF08", "OF09", "OS01", "RM07", "RM11", "OS02", "OS03", "OS04", "OS05", "OS06", "BU03", "SD01",
          "OS07", "OS08"]
ofs = P.section([i for i in OF_IDS if i in R.known_ids()])
if len(ofs):
    show(R.display_section(ofs, P.k))
    ofs.to_csv(out / "overseas_filipinos_survey.csv", index=False)
else:
    note(P.missing(["OF08", "OF09", "SD01"]))

# %% [markdown]
# ## 7. Children with a parent abroad
#
# Children aged 0-17 are linked to their parents through the household roster; a parent who
# is an overseas Filipino makes the child a child "with a parent abroad". A child whose
# parents are not listed in the household is shown separately: migdata never guesses.

# %%
cl, ed = P.children()
if len(cl):
    show(R.display_rows(cl, label="group", k=P.k), {"group": "Children 0-17"})
if len(ed):
    chart(charts.estimates_plot(ed, label="group",
                                title=f"Children 5-17 attending school, by parent abroad, {A.name}",
                                unit="% attending school", source=SOURCE), "school_attendance")
    ed.to_csv(out / "school_attendance.csv", index=False)

# %% [markdown]
# ### Children left behind: schooling, care, contact and well-being
#
# From the survey of children left behind when the database has it (children drawn from the
# CBMS list of children with a parent abroad).

# %%
CLB_IDS = ["CL03", "CL04", "CL05", "CL06", "CL07"]
kids = P.section([i for i in CLB_IDS if i in R.known_ids()])
if len(kids):
    show(R.display_section(kids, P.k))
    kids.to_csv(out / "children_left_behind_survey.csv", index=False)
else:
    note(P.missing(["CL03"]))

# %% [markdown]
# ## 8. Moving within the Philippines
#
# In-movers are persons aged 5 and over who lived in another city/municipality or abroad five
# years ago (the residence item of the source, e.g. CBMS B02).

# %%
r = P.get("IM01")
if r is not None:
    note(f"**{R.fmt_value(r)}** of persons aged 5 and over in {NAME} lived elsewhere five "
         f"years ago ({R.fmt_reliability(r, P.k)}).")
orig = P.origins(top=10)
if len(orig):
    chart(charts.bar_chart(orig, category="place", title=f"Where in-movers lived five years ago, {A.name}",
                           unit="persons", source=P.source_of("IM05"), sort=False), "origins")
    orig.to_csv(out / "origins.csv", index=False)
why = P.reasons()
if len(why):
    chart(charts.bar_chart(why, category="reason", title=f"Why in-movers moved, {A.name}",
                           unit="% of in-movers", source=P.source_of("IM04"), sort=False), "reasons")
    why.to_csv(out / "reasons.csv", index=False)

# %% [markdown]
# ## 9. Return migrants

# %%
ret = P.returns()
note(R.returns_text(ret, NAME, P.k))

# %% [markdown]
# ## 10. Survey estimates beside the census counts
#
# Where a sample survey in the database (a Labor Force Survey round, the survey of overseas
# Filipinos) estimates what CBMS counts, both are shown, each with its own precision: a survey
# estimate has a confidence interval, a count has none.

# %%
both = pd.concat([P.alongside(i) for i in ("OF01", "OF02", "OF03")], ignore_index=True)
if "stream" in both and both["stream"].nunique() > 1:
    both["label"] = ""
    both["stream"] = both["stream"].astype(str).map(lambda s: R.STREAM_NAMES.get(s, s))
    show(R.display_section(both, P.k))
else:
    note("_Only one stream of this database measures these numbers._")

# %% [markdown]
# ## 11. Data quality and reliability

# %%
q = P.quality()
note(R.quality_text(P, q))
if len(P.links):
    note("Links between the surveys and the CBMS roster (records linked, of which conflicting; no id "
         "given; id not found). Every conflict is listed with its row in `migdata info DATABASE`.")
    show(P.links[["link", "records", "linked", "conflict", "not_linked", "not_found", "link_rate"]].round(1),
         {"link": "Link", "records": "Records", "linked": "Linked (agreeing)", "conflict": "Conflicting",
          "not_linked": "No id given", "not_found": "Id not found", "link_rate": "Link rate (%)"})
show(q["flags"])
if len(q["counts"]):
    note("Rows read, kept and rejected when the data was imported:")
    show(q["counts"])
if len(q["problems"]):
    note("Problems found on import, by rule:")
    show(q["problems"])
if len(q["not_computable"]):
    note("Indicators of this profile that the dataset cannot support:")
    show(q["not_computable"][["indicator_id", "name", "reason"]],
         {"indicator_id": "Indicator", "name": "Name", "reason": "Why"})
note(f"Charts and the numbers behind them are saved in `{out.name}/` "
     f"({len(saved)} charts, {len(list(out.glob('*.csv')))} tables).")

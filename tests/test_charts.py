"""Charts: every figure has a title, a unit on the value axis and a source line; values, flags
and suppression are drawn as the input table says (expected values are the hand-made inputs)."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from migdata.publish import charts

matplotlib.use("Agg")

AGES = ["15-24", "25-34", "35-44"]


def _title(fig: Figure) -> str:
    return fig.axes[0].get_title(loc="left")


def _pyramid_inputs():
    of = pd.DataFrame({"age_group": AGES * 2, "sex": ["male"] * 3 + ["female"] * 3,
                       "estimate": [10, 30, 10, 20, 20, 10]})  # total 100
    pop = pd.DataFrame({"age_group": AGES * 2, "sex": ["male"] * 3 + ["female"] * 3,
                        "estimate": [200, 100, 100, 300, 200, 100]})  # total 1000
    return of, pop


def test_pyramid_shows_each_group_as_share_of_its_total():
    of, pop = _pyramid_inputs()
    fig = charts.population_pyramid(of, pop, title="OFs by sex and age", source="CBMS 2022 sample")
    assert isinstance(fig, Figure)
    assert _title(fig) == "OFs by sex and age"
    assert charts.source_line(fig) == "Source: CBMS 2022 sample"
    assert "Percent" in fig.axes[0].get_xlabel()
    widths = [p.get_width() for p in fig.axes[0].patches]
    # drawn order: population male, population female, OF male, OF female (3 ages each)
    assert widths[:3] == pytest.approx([-20.0, -10.0, -10.0])   # 200/1000 ... as % of 1000
    assert widths[3:6] == pytest.approx([30.0, 20.0, 10.0])
    assert widths[6:9] == pytest.approx([-10.0, -30.0, -10.0])  # 10/100 ... as % of 100
    assert widths[9:] == pytest.approx([20.0, 20.0, 10.0])
    # greyscale: the two groups differ by fill and hatch, not by colour alone
    assert fig.axes[0].patches[0].get_hatch() in (None, "")
    assert fig.axes[0].patches[6].get_hatch() == "///"


def test_pyramid_counts_when_not_shares():
    of, pop = _pyramid_inputs()
    fig = charts.population_pyramid(of, pop, title="t", source="s", as_share=False)
    assert fig.axes[0].patches[0].get_width() == pytest.approx(-200)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == AGES


def test_bar_chart_sorts_keeps_top_and_sums_the_rest():
    t = pd.DataFrame({"country": ["Saudi Arabia", "UAE", "Qatar", "Japan"],
                      "estimate": [50, 80, 5, 7]})
    fig = charts.bar_chart(t, category="country", top=2, other_label="Other countries",
                           title="Destinations", unit="persons", source="CBMS")
    ax = fig.axes[0]
    top_down = [lab.get_text() for _, lab in
                sorted(zip(ax.get_yticks(), ax.get_yticklabels()), key=lambda z: -z[0])]
    assert top_down == ["UAE", "Saudi Arabia", "Other countries"]
    bars = sorted(((p.get_y(), p.get_width()) for p in ax.patches), reverse=True)
    assert [w for _, w in bars] == [80, 50, 12]  # top to bottom: UAE, Saudi Arabia, other 5+7
    assert ax.get_xlabel() == "persons"
    assert charts.source_line(fig) == "Source: CBMS"


def test_bar_chart_marks_caution_and_suppressed_cells():
    t = pd.DataFrame({"use": ["Food", "School", "Savings"], "estimate": [60.0, 30.0, 2.0],
                      "flag": ["publish", "caution", "publish"],
                      "suppressed": [False, False, True]})
    fig = charts.remittance_uses(t, title="Uses of remittances", source="OF survey")
    texts = [x.get_text() for x in fig.axes[0].texts]
    assert "60.0%" in texts and "30.0%*" in texts and "S" in texts
    # the suppressed value is not drawn
    assert sorted(p.get_width() for p in fig.axes[0].patches) == [0, 30.0, 60.0]
    line = charts.source_line(fig)
    assert "use with caution" in line and "suppressed" in line and line.endswith("Source: OF survey")


def test_comparison_chart_bars_whiskers_and_hatches():
    t = pd.DataFrame({
        "name": ["With OF members"] * 3 + ["Receiving cash from abroad"] * 3,
        "area_name": ["Calamba", "Laguna", "CALABARZON"] * 2,
        "estimate": [12.0, 10.0, 9.0, 8.0, 7.0, np.nan],
        "ci_low": [11.0, 9.5, 8.8, 7.0, 6.5, np.nan],
        "ci_high": [13.0, 10.5, 9.2, 9.0, 7.5, np.nan],
        "flag": ["publish", "caution", "publish", "publish", "publish", "suppress"],
        "suppressed": [False, False, False, False, False, True]})
    fig = charts.comparison_chart(t, measure="name", title="Migrant households",
                                  unit="% of households", source="CBMS 2022")
    ax = fig.axes[0]
    assert sorted(p.get_width() for p in ax.patches) == [7.0, 8.0, 9.0, 10.0, 12.0]
    hatches = {p.get_hatch() for p in ax.patches}
    assert len(hatches) == 3  # one pattern per area
    labels = [x.get_text() for x in ax.texts]
    assert "10.0%*" in labels and " S" in labels
    assert ax.get_legend() is not None
    assert [x.get_text() for x in ax.get_legend().get_texts()] == ["Calamba", "Laguna", "CALABARZON"]
    assert "confidence interval" in charts.source_line(fig)


def test_estimates_plot_markers_follow_flags():
    t = pd.DataFrame({"label": ["A", "B", "C", "D"], "estimate": [5.0, 6.0, 7.0, 8.0],
                      "ci_low": [4.0, 3.0, 2.0, 7.0], "ci_high": [6.0, 9.0, 12.0, 9.0],
                      "flag": ["publish", "caution", "suppress", "complete_count"]})
    fig = charts.estimates_plot(t, label="label", title="Estimates", unit="%", source="LFS 2022")
    ax = fig.axes[0]
    legend = [x.get_text() for x in ax.get_legend().get_texts()]
    assert legend[0] == "Reliable"
    assert any("Complete count" in s for s in legend)
    assert any("caution" in s for s in legend) and any("Suppressed" in s for s in legend)
    # the suppressed estimate is drawn at zero without an interval: 3 interval lines for 4 rows
    assert len(ax.collections) == 4 + 3
    assert _title(fig) == "Estimates" and ax.get_xlabel() == "%"


@pytest.mark.parametrize("flag,suppressed,kind", [
    ("publish", False, "reliable"), ("caution", False, "caution"), ("suppress", False, "suppressed"),
    ("complete_count", False, "complete"), (None, True, "suppressed"), (np.nan, False, "reliable")])
def test_flag_kind(flag, suppressed, kind):
    assert charts.flag_kind(flag, suppressed) == kind


def test_charts_save_png(tmp_path):
    t = pd.DataFrame({"c": ["a", "b"], "estimate": [1, 2]})
    out = tmp_path / "c.png"
    charts.save(charts.bar_chart(t, category="c", title="t", unit="u", source="s"), str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

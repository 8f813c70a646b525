"""The national-scale CBMS generator: its fast encoder writes the bytes of the sample's writer,
and a generated file of another region imports without a problem."""

from __future__ import annotations

import io

import numpy as np

import migdata
from migdata.areas.reference import reference
from migdata.sample import cbms, dataset, population, scale


def test_encoder_writes_the_bytes_of_write_cases():
    ref = reference()
    bgy = scale.barangays(ref, "1300000000")  # NCR: another region than the sample's
    rng = np.random.default_rng(4)
    h, p = dataset.make_chunk(rng, bgy, np.sort(rng.integers(0, len(bgy), 120)),
                              population.Places.from_reference(ref))
    expected = io.BytesIO()
    dataset.write_chunk(expected, cbms.Layout(), h, p)
    h = h.assign(MODE=1, AGREE_INT=1)
    got = scale.CaseEncoder().encode(*scale.encoder_inputs(h, p))
    assert got == expected.getvalue()


def test_generated_region_imports_cleanly(tmp_path):
    out = tmp_path / "cbms.dat"
    counts = scale.write_cbms_scale(out, persons=3000, seed=3, region="0700000000", chunk_households=200)
    data = migdata.import_files([out], "cbms_2022_hpq")
    assert data.report.counts["persons"] == {"read": counts["persons"], "kept": counts["persons"], "rejected": 0}
    assert set(data.households["region"].astype(str)) == {"0700000000"}
    assert data.report.counts[f"lines of {out.name}"]["read"] == counts["lines"]

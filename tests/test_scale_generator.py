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


def test_parts_written_apart_join_into_the_whole_file(tmp_path):
    """Parts written by separate calls (processes, for a national file) and joined in order are
    the whole file: its bytes in plain text, its text decompressed for zstd (one frame each)."""
    import pyarrow as pa

    kw = dict(persons=3000, seed=5, region="0700000000", chunk_households=150)
    whole = scale.write_cbms_scale(tmp_path / "whole.dat", **kw)
    for suffix, codec in (("", None), (".zst", "zstd")):
        joined, counts = b"", []
        for i in range(3):
            path = tmp_path / f"part{i}.dat{suffix}"
            counts.append(scale.write_cbms_scale(path, compression=codec, part=(i, 3), **kw))
            joined += path.read_bytes()
        if codec:
            (tmp_path / "joined.zst").write_bytes(joined)
            joined = pa.input_stream(str(tmp_path / "joined.zst"), compression=codec).read()
        assert joined == (tmp_path / "whole.dat").read_bytes()
        assert all(c["households"] > 0 for c in counts)  # each part holds some of the chunks
        assert {k: sum(c[k] for c in counts) for k in whole} == whole

"""The bundled CBMS sample read by plain slicing of its fixed-width lines (positions from the
CSPro dictionary, counted by hand): an oracle independent of migdata's reader and profile,
shared by the tests that check linked exports and calibrated weights against it."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path


def cbms_by_slicing(path: Path) -> dict:
    """``{"geo": {case: 9-digit geo code}, "members": {(case, line): {"sex": code, "age": int,
    "b06": int or None}}}``; the n-th Section B occurrence of a case belongs to line n."""
    text = path.read_bytes().decode("utf-8-sig")
    geo, members, b06 = {}, {}, defaultdict(list)
    for line in text.split("\n"):
        if not line:
            continue
        case = line[1:28]
        if line[0] == "R":
            geo[case] = line[1:10]
        elif line[0] == "1":
            members[(case, int(line[28:30]))] = {"sex": line[229], "age": int(line[238:241])}
        elif line[0] == "3":
            v = line[139:140].strip()
            b06[case].append(int(v) if v else None)
    for case, codes in b06.items():
        for n, v in enumerate(codes, start=1):
            members[(case, n)]["b06"] = v
    return {"geo": geo, "members": members}

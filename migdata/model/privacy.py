"""What an import may keep and quote: codes, withheld values, and free text without identifiers.

Names, addresses and phone numbers never reach the store, the manifest or a message (unless the
user keeps identifiers). Three rules, each applied in one place:

- **Codes.** A *code* is a value the profile or the codebook lists, or a value with the form of
  a code: a number, a choice name (lowercase letters, digits, ``_`` and ``-``, as XLSForm
  writes them), one to four capital letters (``M``, ``DK``), or a token holding a digit
  (``H001``, ``B06_OFI``). ``*_src`` columns keep codes only (:func:`is_code`).
- **Quoting.** A problem message quotes a value unless it looks personal
  (:func:`looks_personal`: text that is not code-shaped, a phone number, an e-mail address);
  values of identifier and free-text columns are always withheld. A withheld value reads
  ``<withheld: 14 characters>`` (:func:`withheld`), enough to find the cell.
- **Free text** kept in the store (an occupation typed in, an "other, specify" answer) has its
  phone numbers, e-mail addresses and the words of its own household's names (from the
  profile's dropped identifier columns) replaced by ``[phone]``, ``[e-mail]`` and ``[name]``
  (:func:`redact`).

Hand-written: these are the product's own rules (what counts as a code in a CSPro, SPSS or
Kobo export), a few regular expressions; no library states them.

Example:
    >>> looks_personal("Juan Dela Cruz"), looks_personal("X"), looks_personal("0917 123 4567")
    (True, False, True)
    >>> redact_text("call 0917-123-4567 or juan@mail.ph, ask Rosa", {"rosa"})
    ('call [phone] or [e-mail], ask [name]', {'phone': 1, 'e-mail': 1, 'name': 1})
"""

from __future__ import annotations

import re
from typing import Any, Iterable

import numpy as np
import pandas as pd

_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.]\d+)([eE][+-]?\d+)?")
_NONFINITE = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", "nan"}
_CHOICE = re.compile(r"[a-z0-9_-]{1,64}")
_LETTER_CODE = re.compile(r"[A-Z]{1,4}")
_DIGIT_TOKEN = re.compile(r"[A-Za-z0-9_./:-]{0,63}\d[A-Za-z0-9_./:-]{0,63}")
# Philippine mobile numbers (0917 123 4567, +63 917 123 4567), and numbers of 7 to 13 digits
# that start as dialled numbers do (+, 0 or a bracket) and are broken by spaces, dots, hyphens
# or brackets (a 10-digit PSGC code or a long id is neither)
_MOBILE = r"(?:\+?63|0)[\s.-]?9\d{2}[\s.-]?\d{3}[\s.-]?\d{4}"
_DIALLED = r"(?:\+|\(0?|0)\d*[().\s-][\d().\s-]{4,}\d"
_PHONE = re.compile(rf"(?<![\w+])(?:{_MOBILE}|{_DIALLED})(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_WORD = re.compile(r"[^\W\d_]{3,}")


def _digits(text: str) -> int:
    return sum(c.isdigit() for c in text)


def _phone_match(m: re.Match[str]) -> bool:
    return 7 <= _digits(m.group(0)) <= 13


def is_phone(text: str) -> bool:
    """The whole text is a phone number (a PH mobile number, or a dialled number of 7-13 digits)."""
    m = _PHONE.fullmatch(text.strip())
    return bool(m) and _phone_match(m)


def code_shaped(v: Any) -> bool:
    """A number, a non-finite number word, a choice name, 1-4 capitals, or a token with a digit."""
    if v is None or isinstance(v, (bool, np.bool_, int, float, np.integer, np.floating)):
        return True
    t = str(v).strip()
    if not t or t.lower() in _NONFINITE or _NUMBER.fullmatch(t):
        return True
    return bool(_CHOICE.fullmatch(t) or _LETTER_CODE.fullmatch(t) or _DIGIT_TOKEN.fullmatch(t))


def looks_personal(v: Any) -> bool:
    """True for a value a message must not quote: text that is not shaped like a code (a name
    typed where a code belongs), a phone number or an e-mail address."""
    if v is None or isinstance(v, (bool, np.bool_)):
        return False
    if isinstance(v, (int, np.integer)):
        return is_phone(str(int(v))) or is_phone("0" + str(int(v)))  # a mobile number read as a number
    if isinstance(v, (float, np.floating)):
        return bool(np.isfinite(v)) and float(v).is_integer() and looks_personal(int(v))
    t = str(v)
    return not code_shaped(t) or is_phone(t) or bool(_EMAIL.search(t))


def is_code(v: Any, listed: Iterable[str] = ()) -> bool:
    """A value a ``*_src`` column may keep: listed by the profile or codebook (``listed``, as
    text), or shaped like a code and not personal."""
    if v is None:
        return True
    return str(v).strip() in set(listed) or not looks_personal(v)


def withheld(v: Any) -> str:
    """How a value that must not be quoted is shown in a message."""
    return f"<withheld: {len(str(v))} characters>"


def name_words(values: Iterable[Any]) -> set[str]:
    """The words (3 letters or more, lower case) of identifier values: names, addresses."""
    out: set[str] = set()
    for v in values:
        if v is not None and not (not isinstance(v, str) and pd.isna(v)):
            out.update(w.lower() for w in _WORD.findall(str(v)))
    return out


def redact_text(text: str, names: Iterable[str] = ()) -> tuple[str, dict[str, int]]:
    """``text`` with e-mail addresses, phone numbers and the words of ``names`` replaced; and how
    many of each were found."""
    found = {"phone": 0, "e-mail": 0, "name": 0}

    def sub(kind: str, pattern: re.Pattern[str], s: str) -> str:
        def one(m: re.Match[str]) -> str:
            if kind == "phone" and not _phone_match(m):
                return m.group(0)
            found[kind] += 1
            return f"[{kind}]"
        return pattern.sub(one, s)

    text = sub("e-mail", _EMAIL, text)
    text = sub("phone", _PHONE, text)
    words = sorted({w for w in names if w}, key=len, reverse=True)
    if words:
        rx = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + r")(?!\w)", re.IGNORECASE)
        text = sub("name", rx, text)
    return text, {k: n for k, n in found.items() if n}


def redact(texts: pd.Series, names: Iterable[set[str]] | None = None
           ) -> tuple[pd.Series, list[tuple[int, dict[str, int]]]]:
    """:func:`redact_text` on every present value of ``texts`` (``names``: one set of name
    words per row, or None); returns the new column and (position, what was found) per changed
    row."""
    names_list = list(names) if names is not None else None
    out = texts.astype("object").copy()
    changed: list[tuple[int, dict[str, int]]] = []
    for i, v in enumerate(out.tolist()):
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            continue
        new, found = redact_text(str(v), names_list[i] if names_list is not None else ())
        if found:
            out.iat[i] = new
            changed.append((i, found))
    return out.astype(texts.dtype if isinstance(texts.dtype, pd.StringDtype) else "string"), changed

"""Vietnamese plate formats: turn what OCR read into a plate number, and say whether it is valid.

Vietnamese plates carry a two-digit province code (11-99), a series and a serial number:

- cars, one line or two (square rear plates): `30K-559.78` (five digits) or the older `29A-1234`
  (four), with one series letter or two (`51LD-123.45`);
- motorbikes, two lines: `29-B1 123.45` (letter and digit, five digits), older `29-B1 1234`, and
  mopeds with two letters `29-AA 123.45`.

OCR confuses look-alike glyphs (0/D/O, 8/B, 5/S, 2/Z, 1/I/T, 6/G, 4/A). A plate's layout says
which positions hold digits and which letters, so a misread glyph in a place where only the other
kind can stand is put right here; each such repair lowers the reading's score.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

# Letters used in plate series (no I, J, O, Q, W: they would be confused with digits).
SERIES_LETTERS = frozenset("ABCDEFGHKLMNPRSTUVXYZ")
AS_DIGIT = {"O": "0", "D": "0", "Q": "0", "U": "0", "I": "1", "L": "1", "T": "1", "J": "1", "Z": "2",
            "A": "4", "S": "5", "G": "6", "B": "8", "E": "8"}  # fmt: skip
AS_LETTER = {"0": "D", "8": "B", "5": "S", "2": "Z", "6": "G", "4": "A", "1": "T", "7": "T", "O": "D",
             "Q": "D", "I": "T", "J": "T", "W": "V"}  # fmt: skip


# Two-letter series of car plates (LD: foreign-invested firms, KT: economic zones, NG / NN / QT:
# foreign missions, ...); any other pair of letters after the province code is a misreading.
CAR_SERIES_2 = frozenset({"LD", "KT", "NG", "NN", "QT", "CV", "HC", "TD", "MD", "DA", "KD"})


class PlateKind(StrEnum):
    CAR = "car"
    MOTORBIKE = "motorbike"

    @classmethod
    def of_label(cls, label: str) -> PlateKind | None:
        """The plate a detector label carries: motorcycles the two-line kind, cars, buses, trucks the other."""
        return {"motorcycle": cls.MOTORBIKE, "car": cls.CAR, "bus": cls.CAR, "truck": cls.CAR}.get(label)


@dataclass(frozen=True)
class Layout:
    """One plate format: which positions of the compact string are digits (D), letters (L) or
    either (X: a motorbike's second series character), and how to write it out."""

    name: str
    kind: PlateKind
    pattern: str
    top: int  # compact characters on the top line of a two-line plate

    def render(self, compact: str) -> str:
        p, s = compact[:2], compact[2 : self.top]
        serial = compact[self.top :]
        serial = f"{serial[:3]}.{serial[3:]}" if len(serial) == 5 else serial
        if self.kind is PlateKind.CAR:
            return f"{p}{s}-{serial}"
        return f"{p}-{s} {serial}"


LAYOUTS = (
    Layout("car", PlateKind.CAR, "DDLDDDDD", 3),
    Layout("car-old", PlateKind.CAR, "DDLDDDD", 3),
    Layout("car-2", PlateKind.CAR, "DDLLDDDDD", 4),
    Layout("motorbike", PlateKind.MOTORBIKE, "DDLXDDDDD", 4),
    Layout("motorbike-old", PlateKind.MOTORBIKE, "DDLXDDDD", 4),
)
_L = "[A-HK-NPR-VX-Z]"  # SERIES_LETTERS as a regex class
_VALID = {
    PlateKind.CAR: re.compile(rf"\d\d{_L}{{1,2}}-(\d{{3}}\.\d{{2}}|\d{{4}})"),
    PlateKind.MOTORBIKE: re.compile(rf"\d\d-{_L}[0-9A-HK-NPR-VX-Z] (\d{{3}}\.\d{{2}}|\d{{4}})"),
}


@dataclass(frozen=True)
class PlateText:
    """A plate number as written on the plate, its kind and how many glyphs were repaired."""

    text: str
    kind: PlateKind | None
    valid: bool
    repairs: int = 0

    @property
    def compact(self) -> str:
        return compact(self.text)


def compact(text: str) -> str:
    """Letters and digits only, in capitals: what is compared between readings."""
    return "".join(c for c in text.upper() if c.isalnum())


def is_valid(text: str) -> bool:
    """Whether `text` is a plate number written in a Vietnamese format (as `parse` writes it)."""
    t = " ".join(text.strip().upper().split())
    if _VALID[PlateKind.CAR].fullmatch(t) and t[3] != "-" and t[2:4] not in CAR_SERIES_2:
        return False
    return any(p.fullmatch(t) and _province_ok(t) for p in _VALID.values())


def parse(lines: list[str] | str, kind: PlateKind | None = None) -> PlateText:
    """The best plate number for OCR'd text (one string, or a plate's lines top to bottom).

    `kind`, when known (a car's crop cannot hold a motorbike plate), limits the layouts tried.

    Tries every layout whose length fits; with two lines, the top line's length must agree with
    the layout (3 for a car's `30E`, 4 for a motorbike's `29B1`). Fewest repairs wins; a reading
    that fits none comes back as it was read, not valid.
    """
    parts = [lines] if isinstance(lines, str) else list(lines)
    tops = [compact(p) for p in parts if compact(p)]
    whole = "".join(tops)
    top_len = len(tops[0]) if len(tops) == 2 else None
    best: PlateText | None = None
    for layout in LAYOUTS:
        if kind is not None and layout.kind is not kind:
            continue
        if len(layout.pattern) != len(whole) or (top_len is not None and top_len != layout.top):
            continue
        fixed = _coerce(whole, layout.pattern)
        if fixed is None or not _province_ok(fixed) or not _series_ok(fixed, layout):
            continue
        text, repairs = layout.render(fixed), sum(a != b for a, b in zip(fixed, whole, strict=True))
        if best is None or repairs < best.repairs:
            best = PlateText(text, layout.kind, True, repairs)
    if best is not None:
        return best
    return PlateText(" ".join(" ".join(p.upper().split()) for p in parts).strip(), None, False)


def normalise(text: str) -> PlateText:
    """A reviewer's typed plate: spacing and separators made canonical (`30k 55978` -> `30K-559.78`).

    Unlike OCR output, typed text is not repaired glyph by glyph: a letter where a digit belongs
    is an error the reviewer must see, not a guess.
    """
    raw = " ".join(text.strip().upper().split())
    if is_valid(raw):
        kind = PlateKind.MOTORBIKE if _VALID[PlateKind.MOTORBIKE].fullmatch(raw) else PlateKind.CAR
        return PlateText(raw, kind, True)
    c = compact(raw)
    # "29-AA 12345" or "29 B1 1234" (a break after the province code) is a motorbike's two lines
    moto = re.match(r"\d\d[- ]", raw) is not None
    fits = [
        lay for lay in LAYOUTS
        if len(lay.pattern) == len(c) and _coerce(c, lay.pattern, repair=False) == c and _province_ok(c)
    ]  # fmt: skip
    if moto:  # only a motorbike's top line ends after the province code
        fits = [lay for lay in fits if lay.kind is PlateKind.MOTORBIKE]
    fits = [lay for lay in fits if _series_ok(c, lay)]
    if fits:
        return PlateText(fits[0].render(c), fits[0].kind, True)
    return PlateText(raw, None, False)


def _coerce(s: str, pattern: str, repair: bool = True) -> str | None:
    out = []
    for ch, want in zip(s, pattern, strict=True):
        if want == "D":
            ch = ch if ch.isdigit() else (AS_DIGIT.get(ch, "") if repair else "")
        elif want == "L":
            ch = ch if ch in SERIES_LETTERS else (AS_LETTER.get(ch, "") if repair else "")
        elif not (ch.isdigit() or ch in SERIES_LETTERS):
            ch = AS_LETTER.get(ch, "") if repair else ""
        if not ch:
            return None
        out.append(ch)
    return "".join(out)


def _series_ok(compact_text: str, layout: Layout) -> bool:
    """Two-letter car series are few (foreign-invested firms, diplomats, ...): only those count."""
    return layout.name != "car-2" or compact_text[2:4] in CAR_SERIES_2


def _province_ok(text: str) -> bool:
    code = text[:2]
    return code.isdigit() and 11 <= int(code) <= 99

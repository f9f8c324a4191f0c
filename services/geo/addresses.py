"""Which grid a free-text address (地址) is in, from a gazetteer of each grid's compounds, buildings
and road sections.

The gazetteer (services/reference/data/demo_addresses.yaml for the demo district) lists per grid
code its compounds (小区/苑/院/花园 …) with the building numbers (楼栋) inside the grid, and its road
sections (路名 with a door-number range 门牌 and side: odd, even or all). A compound or a road may be
split between grids by building or door number.

Matching is tolerant of what residents and hotline operators actually write:

- full-width characters (ＡＢ１２ → AB12, NFKC) and spaces or punctuation anywhere;
- Chinese numerals before a unit (三号楼 = 3号楼, 十二幢 = 12幢, 两栋 = 2栋, 一百零五号 = 105号);
- building units 幢 / 栋 / 座 / 号楼 / 号 / 楼 (all the same number);
- compound suffix variants: 柳塘小区 = 柳塘花园 = 柳塘苑 = 柳塘 (when a building number follows) …,
  but the exact name wins when two compounds differ only by suffix (观澜苑 vs 观澜小区);
- missing or present administrative prefixes (省/市, the district, street and community names):
  "青禾区梅溪街道柳塘社区柳塘小区3幢" and "柳塘小区三幢" match the same.

Scores: compound + building in its range 1.0; road + door number in its range 0.95; a compound in
only one grid (no or an unlisted building) 0.8 / 0.7; a road in only one grid, no number 0.6. When
the best evidence points at more than one grid (柳塘小区 without a building, which is in two grids),
the answer is None: better triage than a wrong department.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: Compound name endings that residents swap freely (longest first).
COMPOUND_SUFFIXES = ("号院", "小区", "花园", "新村", "公寓", "家园", "苑", "院", "园")
_SUFFIX_RE = "|".join(COMPOUND_SUFFIXES)
_BUILDING = re.compile(rf"^(?:{_SUFFIX_RE})?(\d+)(?:号楼|幢|栋|座|号|楼)")
_SUFFIX_ONLY = re.compile(rf"^(?:{_SUFFIX_RE})")
_DOOR = re.compile(r"^(\d+)(?:[-之]\d+)?号")
_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百千]+(?=号楼|号院|号|幢|栋|座|楼|单元|室|层|弄)")
_PROVINCE_CITY = re.compile(r"^(?:[\u4e00-\u9fff]{2,3}省)?(?:[\u4e00-\u9fff]{2,3}市)?")
_NOISE = re.compile(r"[\s,，.。、;；:：()（）\[\]【】\"'“”‘’#＃]+")

SCORE_BUILDING = 1.0
SCORE_DOOR = 0.95
SCORE_COMPOUND = 0.8
SCORE_COMPOUND_UNLISTED_BUILDING = 0.7
SCORE_ROAD = 0.6


def chinese_number(text: str) -> int:
    """十二 → 12, 二十 → 20, 一百零五 → 105, 两 → 2; digit strings without units read digit by
    digit (一二 → 12)."""
    if not any(ch in _CN_UNITS for ch in text):
        return int("".join(str(_CN_DIGITS[ch]) for ch in text))
    total = digit = 0
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        else:
            total += (digit or 1) * _CN_UNITS[ch]
            digit = 0
    return total + digit


def normalize(text: str) -> str:
    """Full-width to half-width, no spaces or punctuation, Chinese numerals before a unit as digits."""
    text = unicodedata.normalize("NFKC", text)
    text = _NOISE.sub("", text)
    return _CN_NUMBER.sub(lambda m: str(chinese_number(m.group(0))), text)


def compound_key(name: str) -> str:
    """The name without its suffix variant (柳塘小区 → 柳塘), if at least two characters remain."""
    name = normalize(name)
    for suffix in COMPOUND_SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def _ranges(spec: Any) -> tuple[tuple[int, int], ...]:
    """ "1-16", "1-4,7", [1, 2, "5-8"] or 3 → ((lo, hi), ...)."""
    items = spec if isinstance(spec, list) else str(spec).split(",")
    out = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        lo, _, hi = text.partition("-")
        out.append((int(lo), int(hi or lo)))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Compound:
    grid_code: str
    name: str
    buildings: tuple[tuple[int, int], ...]

    def has(self, building: int) -> bool:
        return any(lo <= building <= hi for lo, hi in self.buildings)


@dataclass(frozen=True, slots=True)
class RoadSection:
    grid_code: str
    name: str
    first: int
    last: int
    parity: str  # odd | even | all

    def has(self, number: int) -> bool:
        if not self.first <= number <= self.last:
            return False
        return self.parity == "all" or (number % 2 == 1) == (self.parity == "odd")


@dataclass(frozen=True, slots=True)
class AddressMatch:
    grid_code: str
    score: float
    matched: str  # what matched, e.g. "compound 柳塘小区 building 3"


class AddressIndex:
    def __init__(self, gazetteer: Mapping[str, Any], *, area_names: Iterable[str] = ()) -> None:
        """``gazetteer``: {"grids": {grid code: {"compounds": [...], "roads": [...]}}} as in
        demo_addresses.yaml. ``area_names``: district, street and community names to ignore in
        addresses (柳塘社区 would otherwise look like compound 柳塘)."""
        self._exact: dict[str, list[Compound]] = {}
        self._keyed: dict[str, list[Compound]] = {}
        self._roads: dict[str, list[RoadSection]] = {}
        for grid_code, entry in (gazetteer.get("grids") or {}).items():
            code = str(grid_code)
            for c in (entry or {}).get("compounds") or ():
                compound = Compound(code, normalize(str(c["name"])), _ranges(c.get("buildings", "")))
                self._exact.setdefault(compound.name, []).append(compound)
                self._keyed.setdefault(compound_key(compound.name), []).append(compound)
                for alias in c.get("aliases") or ():
                    self._exact.setdefault(normalize(str(alias)), []).append(compound)
            for r in (entry or {}).get("roads") or ():
                section = RoadSection(
                    code, normalize(str(r["name"])), int(r["from"]), int(r["to"]), str(r.get("parity", "all"))
                )
                self._roads.setdefault(section.name, []).append(section)
        # Longest names first, so 桂花苑社区 goes before any compound inside it.
        self._area_names = sorted({normalize(n) for n in area_names if n}, key=len, reverse=True)
        self._max_len = max((len(k) for d in (self._exact, self._keyed, self._roads) for k in d), default=0)

    @classmethod
    def demo(cls) -> AddressIndex:
        from services.reference.seed import demo_district, load_yaml

        names = [f["properties"]["name"] for f in demo_district()["features"]]
        return cls(load_yaml("demo_addresses.yaml"), area_names=names)

    def __len__(self) -> int:
        return sum(len(v) for v in self._exact.values()) + sum(len(v) for v in self._roads.values())

    def match(self, address: str | None) -> AddressMatch | None:
        """The best grid for the address, or None (nothing matched, or the best evidence is ambiguous)."""
        if not address:
            return None
        text = _PROVINCE_CITY.sub("", normalize(address), count=1)
        for name in self._area_names:
            text = text.replace(name, "|")
        best: list[AddressMatch] = []
        i, n = 0, len(text)
        while i < n:
            found = 0
            for length in range(min(self._max_len, n - i), 1, -1):
                word, rest = text[i : i + length], text[i + length :]
                candidates = self._compound(word, rest) or self._road(word, rest)
                if candidates is not None:
                    best = _better(best, candidates)
                    found = length
                    break
            i += found or 1
        grids = {m.grid_code for m in best}
        return best[0] if len(grids) == 1 else None

    def _compound(self, word: str, rest: str) -> list[AddressMatch] | None:
        exact = self._exact.get(word)
        if exact is not None:
            compounds = exact
        else:
            keyed = self._keyed.get(word)
            # A bare key (柳塘) only counts as a compound when a suffix or a building number follows;
            # otherwise it is part of a road (柳塘路) or some other name.
            if keyed is None or not (_SUFFIX_ONLY.match(rest) or _BUILDING.match(rest)):
                return None
            compounds = keyed
            rest = _SUFFIX_ONLY.sub("", rest, count=1) if not _BUILDING.match(rest) else rest
        m = _BUILDING.match(rest)
        if m:
            building = int(m.group(1))
            inside = [c for c in compounds if c.has(building)]
            if inside:
                return [
                    AddressMatch(c.grid_code, SCORE_BUILDING, f"compound {c.name} building {building}")
                    for c in inside
                ]
            return [
                AddressMatch(
                    c.grid_code,
                    SCORE_COMPOUND_UNLISTED_BUILDING,
                    f"compound {c.name} (building {building} unlisted)",
                )
                for c in compounds
            ]
        return [AddressMatch(c.grid_code, SCORE_COMPOUND, f"compound {c.name}") for c in compounds]

    def _road(self, word: str, rest: str) -> list[AddressMatch] | None:
        sections = self._roads.get(word)
        if sections is None:
            return None
        m = _DOOR.match(rest)
        if m:
            number = int(m.group(1))
            inside = [s for s in sections if s.has(number)]
            if inside:
                return [AddressMatch(s.grid_code, SCORE_DOOR, f"road {s.name} No. {number}") for s in inside]
        return [AddressMatch(s.grid_code, SCORE_ROAD, f"road {s.name}") for s in sections]


def _better(best: list[AddressMatch], candidates: list[AddressMatch]) -> list[AddressMatch]:
    """Keep the highest-scoring matches so far (all of them, to see whether they agree on a grid)."""
    top = max(m.score for m in candidates)
    candidates = [m for m in candidates if m.score == top]
    if not best or top > best[0].score:
        return candidates
    if top == best[0].score:
        return best + candidates
    return best

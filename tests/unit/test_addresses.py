"""Address matching against the demo district's gazetteer (services/reference/data/demo_addresses.yaml)."""

from __future__ import annotations

import pytest

from services.geo.addresses import AddressIndex, chinese_number, normalize
from services.reference.seed import demo_district, load_yaml

LIUTANG_1 = "10100133019900100101"
LIUTANG_3 = "10100133019900100103"
LIUTANG_4 = "10100133019900100104"
GUIHUA_1 = "10100133019900100201"
GUIHUA_2 = "10100133019900100202"
GUANLAN_1 = "10100133019900200101"
GUANLAN_2 = "10100133019900200102"


@pytest.fixture(scope="module")
def index() -> AddressIndex:
    return AddressIndex.demo()


def test_gazetteer_covers_every_demo_grid() -> None:
    grids = {
        f["properties"]["code"] for f in demo_district()["features"] if f["properties"]["level"] == "grid"
    }
    gazetteer = load_yaml("demo_addresses.yaml")["grids"]
    assert set(gazetteer) == grids
    for entry in gazetteer.values():
        assert entry["compounds"] and entry["roads"]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("三", 3),
        ("十", 10),
        ("十二", 12),
        ("二十", 20),
        ("二十三", 23),
        ("两", 2),
        ("一百零五", 105),
        ("一二", 12),
    ],
)
def test_chinese_numbers(text: str, number: int) -> None:
    assert chinese_number(text) == number


def test_normalize() -> None:
    assert normalize("柳塘小区 三号楼") == "柳塘小区3号楼"
    assert normalize("柳塘路１２号") == "柳塘路12号"
    assert normalize("第一网格") == "第一网格"  # numerals not before a unit stay


@pytest.mark.parametrize(
    "address",
    [
        "青禾区梅溪街道柳塘社区柳塘小区3幢",
        "柳塘小区三幢",
        "柳塘小区3栋",
        "柳塘小区3号楼2单元501室",
        "柳塘小区三号楼",
        "柳塘花园3幢",
        "柳塘苑3幢",
        "柳塘3幢",
        "柳塘小区３幢",
        "浙江省杭州市青禾区柳塘小区 3 幢",
        "梅溪街道柳塘小区，3幢楼下",
    ],
)
def test_variants_of_one_building_match_the_same_grid(index: AddressIndex, address: str) -> None:
    match = index.match(address)
    assert match is not None and match.grid_code == LIUTANG_1, address
    assert match.score == 1.0 and "柳塘小区" in match.matched and "3" in match.matched


def test_building_number_picks_the_grid_of_a_split_compound(index: AddressIndex) -> None:
    match = index.match("柳塘小区二十幢")
    assert match is not None and match.grid_code == LIUTANG_3
    assert index.match("柳塘小区十二幢") == index.match("柳塘小区12号楼")


def test_split_compound_without_building_is_ambiguous(index: AddressIndex) -> None:
    assert index.match("柳塘小区") is None
    assert index.match("柳塘小区99幢") is None  # listed in neither grid


def test_compound_in_one_grid_without_building(index: AddressIndex) -> None:
    match = index.match("金桂花园门口")
    assert match is not None and match.grid_code == GUIHUA_2 and match.score == 0.8


def test_exact_name_wins_over_suffix_variant(index: AddressIndex) -> None:
    assert (m := index.match("观澜苑3幢")) is not None and m.grid_code == GUANLAN_1
    assert (m := index.match("观澜小区3幢")) is not None and m.grid_code == GUANLAN_2
    assert index.match("观澜花园3幢") is None  # both 观澜苑 and 观澜小区 have a building 3


def test_suffix_variant_of_a_compound_in_one_grid(index: AddressIndex) -> None:
    assert (m := index.match("金桂小区5号楼")) is not None and m.grid_code == GUIHUA_2
    assert (m := index.match("海棠小区2幢")) is not None and m.grid_code == "10100133019900200202"


def test_community_name_is_not_a_compound(index: AddressIndex) -> None:
    # 柳塘社区 is the community; without a compound or road there is nothing to go on.
    assert index.match("青禾区梅溪街道柳塘社区") is None
    assert (m := index.match("桂花苑社区桂花苑15幢")) is not None and m.grid_code == GUIHUA_2


@pytest.mark.parametrize(
    ("address", "grid"),
    [
        ("柳塘路13号", LIUTANG_3),  # odd side, west
        ("柳塘路１２号", GUIHUA_1),  # even side, west; full-width digits
        ("柳塘路一百零一号", LIUTANG_4),
        ("青禾区柳塘路88号旁边", GUIHUA_2),
        ("柳塘路88-1号", GUIHUA_2),
    ],
)
def test_road_and_door_number(index: AddressIndex, address: str, grid: str) -> None:
    match = index.match(address)
    assert match is not None and match.grid_code == grid and match.score == 0.95, (address, match)


def test_road_without_number(index: AddressIndex) -> None:
    assert (m := index.match("桂香街")) is not None and m.grid_code == GUIHUA_2 and m.score == 0.6
    assert index.match("柳塘路") is None  # the road runs through five grids
    assert index.match("柳塘路与杏林路交叉口") is None


def test_building_beats_road(index: AddressIndex) -> None:
    assert (m := index.match("柳塘路12号柳塘小区3幢")) is not None and m.grid_code == LIUTANG_1


def test_nothing(index: AddressIndex) -> None:
    assert index.match("") is None
    assert index.match(None) is None
    assert index.match("不知道在哪里") is None


def test_aliases_and_lists() -> None:
    idx = AddressIndex(
        {
            "grids": {
                "G1": {"compounds": [{"name": "红星小区", "aliases": ["红星大院"], "buildings": [1, "3-4"]}]}
            }
        }
    )
    assert (m := idx.match("红星大院4栋")) is not None and m.grid_code == "G1"
    assert (m := idx.match("红星小区2栋")) is not None and m.score == 0.7

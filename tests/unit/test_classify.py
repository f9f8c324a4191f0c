"""Report classification: the shipped model loads, ranks, decides by threshold and meets the acceptance.

Fast: nothing is retrained here; the evaluation runs the shipped model on the held-out split.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from services.classify import model as m
from services.classify.evaluate import MIN_AUTO_ACCURACY, MIN_AUTO_RATE, MIN_TOP3, evaluate
from services.classify.urgency import detect_urgency
from services.reference.seed import load_yaml

CODES = {str(c["code"]) for c in load_yaml("categories.yaml")["categories"]}


@pytest.fixture(autouse=True)
def _no_deployment_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRIDCASE_CLASSIFY_THRESHOLD", raising=False)
    monkeypatch.delenv("GRIDCASE_CLASSIFY_MODEL", raising=False)


def test_the_data_set_covers_every_category_but_9999_in_three_styles() -> None:
    rows = m.load_reports()
    assert len(rows) >= 600
    assert len({r.text for r in rows}) == len(rows)
    for code in CODES - {"9999"}:
        mine = [r for r in rows if r.category == code]
        assert len(mine) >= 16, code
        assert {r.style for r in mine} == {"hotline", "wechat", "grid"}, code
        assert any(r.split == "test" for r in mine) and any(r.split == "train" for r in mine), code
    assert not any(r.category == "9999" for r in rows)
    share = sum(r.split == "test" for r in rows) / len(rows)
    assert 0.2 <= share <= 0.3


def test_the_shipped_model_is_small_versioned_and_knows_the_taxonomy() -> None:
    assert m.DEFAULT_MODEL_PATH.stat().st_size < 5 * 1024 * 1024
    art = m.load()
    assert set(art.categories) == CODES - {"9999"}
    assert art.version.endswith(art.data_sha256[:12])
    assert 0.0 < art.threshold < 1.0
    assert m.load() is art  # once per process


def test_predict_returns_the_top_3_codes_best_first() -> None:
    ranked = m.predict("市民来电反映，小区门口路灯晚上不亮已经一周，诉求尽快维修。")
    assert len(ranked) == 3
    assert ranked[0][0] == "0101"
    confidences = [c for _, c in ranked]
    assert confidences == sorted(confidences, reverse=True)
    assert all(isinstance(code, str) and 0.0 <= c <= 1.0 for code, c in ranked)
    assert len(m.predict("楼道里好大的煤气味", top=5)) == 5


def test_threshold_decides_auto_dispatch_or_triage(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "楼道里有很浓的煤气味，怀疑燃气泄漏"
    confident = m.classify(text, threshold_override=0.0)
    assert confident.auto and confident.code == "0107"
    assert confident.suggestions[0][0] == "0107"

    triage = m.classify(text, threshold_override=1.0)
    assert not triage.auto and triage.code is None
    assert len(triage.suggestions) == 3 and triage.suggestions[0][0] == "0107"

    monkeypatch.setenv("GRIDCASE_CLASSIFY_THRESHOLD", "0.99")
    assert m.threshold() == 0.99
    assert m.classify(text).threshold == 0.99
    monkeypatch.setenv("GRIDCASE_CLASSIFY_THRESHOLD", "1.5")
    with pytest.raises(ValueError, match="GRIDCASE_CLASSIFY_THRESHOLD"):
        m.threshold()


def test_the_model_reloads_when_its_file_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "classifier.joblib"
    shutil.copy(m.DEFAULT_MODEL_PATH, copy)
    monkeypatch.setenv("GRIDCASE_CLASSIFY_MODEL", str(copy))
    first = m.load()
    assert m.load() is first
    st = copy.stat()
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    second = m.load()
    assert second is not first and second.version == first.version


def test_choose_threshold_takes_the_lowest_cut_meeting_the_target() -> None:
    conf = [0.9, 0.8, 0.7, 0.6, 0.5]
    ok = [True, True, True, False, False]
    assert m.choose_threshold(conf, ok, target=0.95, floor=0.0) == 0.7
    assert m.choose_threshold(conf, [False] * 5, target=0.95, floor=0.0) == 1.0


def test_the_held_out_evaluation_meets_the_acceptance() -> None:
    ev = evaluate()
    assert ev.n >= 150
    assert ev.auto_accuracy >= MIN_AUTO_ACCURACY, ev
    assert ev.auto_rate >= MIN_AUTO_RATE, ev
    assert ev.top3 >= MIN_TOP3, ev
    assert ev.accepted
    assert {s.code for s in ev.per_category} <= CODES
    assert set(ev.by_style) == {"hotline", "wechat", "grid"}


def test_a_threshold_of_one_fails_the_acceptance_on_auto_rate() -> None:
    ev = evaluate(threshold=1.0)
    assert ev.auto_rate == 0.0
    assert not ev.accepted and any("auto-dispatch rate" in f for f in ev.failures())


# --- urgency ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "level", "reason"),
    [
        ("幸福路8号楼3楼着火了，窗户往外冒黑烟，快来人", "emergency", "起火"),
        ("小区车棚起火，火势很大", "emergency", "起火"),
        ("楼道里好大的煤气味，不知道谁家的", "emergency", "燃气泄漏"),
        ("施工挖破燃气管道，现场漏气，已设置警戒", "emergency", "燃气泄漏"),
        ("老房子的墙倒塌了，压住了一辆车", "emergency", "坍塌"),
        ("电梯突然停了，有老人被困在里面", "emergency", "有人被困"),
        ("有人从楼梯上摔下来，头上在流血", "emergency", "有人受伤"),
        ("我家老人早上出门走失了，穿灰色外套", "emergency", "有人走失"),
        ("邻居家孩子失踪一天了", "emergency", "有人走失"),
        ("下雪路滑，有个老人在人行道上摔倒了", "urgent", "有人受伤或摔倒"),
        ("被流浪狗咬伤了，附近医院没有狂犬疫苗", "urgent", "有人受伤或摔倒"),
        ("电线杆上的线打火了，噼里啪啦的", "urgent", "漏电"),
        ("小区东门外的井盖没了，一个大黑窟窿", "urgent", "井口敞开"),
    ],
)
def test_urgent_reports_are_recognised(text: str, level: str, reason: str) -> None:
    found = detect_urgency(text)
    assert found is not None, text
    assert (found.level, found.reason) == (level, reason)
    assert found.matched and found.matched in text


@pytest.mark.parametrize(
    "text",
    [
        "火车站广场的共享单车堆成山，出口都堵了",
        "楼下火锅店的油烟直往楼上窗户里灌",
        "有人在楼道里乱扔烟头，还有很多香烟盒",
        "企业烟囱天天冒黑烟，晾的衣服都是黑点",
        "消防通道上停满车，万一着火消防车进不来",
        "楼道里飞线充电，担心起火",
        "人行道地砖松动，老人差点摔倒",
        "路灯杆检修门被撬开，小孩经过怕触电",
        "社区有没有防走失手环可以申请",
        "车辆剐蹭，无人受伤，请交警处理",
        "灭火器都过期了，烟感也不响",
        "燃气灶打不着火，燃气表也不走字",
        "市民来电反映，小区门口路灯晚上不亮，诉求维修",
    ],
)
def test_tricky_non_urgent_reports_stay_calm(text: str) -> None:
    assert detect_urgency(text) is None, detect_urgency(text)


def test_the_most_urgent_reason_wins() -> None:
    found = detect_urgency("有人摔倒了，旁边的房子着火了")
    assert found is not None and found.level == "emergency" and found.reason == "起火"

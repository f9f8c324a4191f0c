"""The WeChat official account's callback on the running system, driven as WeChat's servers drive it:
requests signed and encrypted with wechatpy (the independent SDK), replies decrypted and parsed with it."""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
import xmltodict
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from services.geo.coords import wgs84_to_gcj02
from tests.integration.conftest import case_in_status, role_headers
from tests.support import GRIDS, SAMPLE_POINTS, WECHAT_AES_KEY, WECHAT_APPID, WECHAT_TOKEN, System, wait_for

PATH = "/channels/wechat"
ACCOUNT = "gh_0123456789ab"  # the official account's own id (ToUserName of what residents send)
# Every nonce this module sent and how often: the last test finds a raw request with an outcome for each.
SENT: Counter[str] = Counter()


def new_openid() -> str:
    return "oTest_" + uuid.uuid4().hex[:22]


def new_msg_id() -> str:
    return str(random.randrange(10**15, 10**19))


def new_nonce() -> str:
    return str(random.randrange(10**8, 10**10))


def sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    signature: str = signer.signature
    return signature


# --- what residents send, as WeChat's documentation shows it --------------------------------------


def _xml(openid: str, msg_type: str, body: str, *, msg_id: str | None, created: int | None = None) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{created or int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[{msg_type}]]></MsgType>{body}"
        + (f"<MsgId>{msg_id}</MsgId>" if msg_id else "")
        + "</xml>"
    )


def text(openid: str, content: str, msg_id: str | None = None) -> str:
    return _xml(openid, "text", f"<Content><![CDATA[{content}]]></Content>", msg_id=msg_id or new_msg_id())


def location(openid: str, lon: float, lat: float, label: str) -> str:
    body = (
        f"<Location_X>{lat}</Location_X><Location_Y>{lon}</Location_Y><Scale>16</Scale>"
        f"<Label><![CDATA[{label}]]></Label>"
    )
    return _xml(openid, "location", body, msg_id=new_msg_id())


def image(openid: str, media_id: str) -> str:
    body = (
        f"<PicUrl><![CDATA[http://mmbiz.qpic.cn/mmbiz_jpg/{media_id}/0]]></PicUrl>"
        f"<MediaId><![CDATA[{media_id}]]></MediaId>"
    )
    return _xml(openid, "image", body, msg_id=new_msg_id())


def voice(openid: str, recognition: str) -> str:
    body = (
        "<MediaId><![CDATA[voice-media-1]]></MediaId><Format><![CDATA[amr]]></Format>"
        f"<Recognition><![CDATA[{recognition}]]></Recognition>"
    )
    return _xml(openid, "voice", body, msg_id=new_msg_id())


def event(openid: str, name: str) -> str:
    return _xml(openid, "event", f"<Event><![CDATA[{name}]]></Event>", msg_id=None)


# --- WeChat's servers -----------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: str
    content: str | None = None  # the text reply's content (decrypted when it came encrypted)
    encrypted: bool = False


@dataclass(frozen=True)
class Push:
    """One signed request, ready to send (again: a retry is the same request)."""

    params: dict[str, str]
    body: bytes
    mode: str


class WeChat:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.crypto = WeChatCrypto(WECHAT_TOKEN, WECHAT_AES_KEY, WECHAT_APPID)

    def build(
        self,
        xml: str,
        *,
        mode: str = "plain",
        timestamp: str | None = None,
        nonce: str | None = None,
        token: str = WECHAT_TOKEN,
    ) -> Push:
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or new_nonce()
        openid = xmltodict.parse(xml)["xml"]["FromUserName"]
        params = {
            "signature": sign(token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": openid,
        }
        if mode == "plain":
            return Push(params, xml.encode(), mode)
        envelope = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, timestamp))["xml"]
        params |= {"encrypt_type": "aes", "msg_signature": envelope["MsgSignature"]}
        encrypt = f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt>"
        if mode == "aes":
            body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>{encrypt}</xml>"
        else:  # compatibility mode: the plaintext fields and the ciphertext side by side
            body = xml.replace("</xml>", encrypt + "</xml>")
        return Push(params, body.encode(), mode)

    async def send(self, push: Push) -> Reply:
        SENT[push.params["nonce"]] += 1
        r = await self.client.post(
            PATH, params=push.params, content=push.body, headers={"Content-Type": "text/xml"}
        )
        reply = Reply(r.status_code, r.text)
        if r.status_code != 200 or r.text in ("", "success"):
            return reply
        if push.mode != "plain":
            envelope = xmltodict.parse(r.text)["xml"]
            # decrypt_message checks MsgSignature over TimeStamp, Nonce and Encrypt, and the AppID.
            decrypted = self.crypto.decrypt_message(
                r.text, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
            )
            message = parse_message(decrypted)
            reply.encrypted = True
        else:
            message = parse_message(r.text)
        assert message.type == "text"
        assert message.source == ACCOUNT and message.target == push.params["openid"]
        reply.content = message.content
        return reply

    async def push(self, xml: str, **kwargs: Any) -> Reply:
        return await self.send(self.build(xml, **kwargs))


@pytest.fixture
async def wechat(system: System) -> AsyncIterator[WeChat]:
    async with httpx.AsyncClient(base_url=system.http, timeout=20.0) as client:
        yield WeChat(client)


CASE_NO = re.compile(r"案件编号：(\d+)")


def case_no_of(reply: Reply) -> str:
    assert reply.status == 200, reply.body
    assert reply.content is not None
    found = CASE_NO.search(reply.content)
    assert found, reply.content
    return found.group(1)


async def expire_session(db: asyncpg.Pool, openid: str) -> None:
    """As if the resident's last message were 11 minutes old (the window is 10)."""
    await db.execute(
        "UPDATE channel_sessions SET last_message_at = now() - interval '11 minutes' "
        "WHERE channel = 'wechat' AND resident_ref = $1",
        openid,
    )


async def outcomes_of(db: asyncpg.Pool, nonce: str) -> list[str]:
    """The outcomes of the raw requests sent with this nonce, sorted."""
    rows = await db.fetch(
        "SELECT outcome FROM raw_inbound WHERE channel = 'wechat' AND path ~ $1", f"[?&]nonce={nonce}(&|$)"
    )
    return sorted(r["outcome"] for r in rows)


async def case_id_of(db: asyncpg.Pool, case_no: str) -> str:
    return str(await db.fetchval("SELECT id FROM cases WHERE case_no = $1", case_no))


# --- URL verification ------------------------------------------------------------------------------


async def test_url_verification_echoes_echostr_only_when_signed(wechat: WeChat) -> None:
    timestamp, nonce = str(int(time.time())), new_nonce()
    params = {"signature": sign(WECHAT_TOKEN, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    SENT[nonce] += 2
    r = await wechat.client.get(PATH, params=params | {"echostr": "4930519463519384"})
    assert r.status_code == 200 and r.text == "4930519463519384"
    assert r.headers["content-type"].startswith("text/plain")
    r = await wechat.client.get(PATH, params=params | {"signature": "0" * 40, "echostr": "1"})
    assert r.status_code == 403 and "签名" in r.json()["message"]


# --- messages --------------------------------------------------------------------------------------


async def test_a_plaintext_text_opens_a_case_and_the_reply_names_it(
    wechat: WeChat, api: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    openid, msg_id = new_openid(), new_msg_id()
    reply = await wechat.push(text(openid, "小区东门路灯不亮，晚上很黑", msg_id))
    case_no = case_no_of(reply)
    assert reply.content is not None and reply.content.startswith(f"已受理，案件编号：{case_no}。")
    assert "10分钟内" in reply.content
    case = (await api.get(f"/api/v1/cases/{await case_id_of(db, case_no)}")).json()
    assert case["channel"] == "wechat" and case["description"] == "小区东门路灯不亮，晚上很黑"
    row = await db.fetchrow(
        "SELECT external_id, reporter_ref, submitted_by FROM cases WHERE case_no = $1", case_no
    )
    assert dict(row) == {
        "external_id": f"wx:{msg_id}",
        "reporter_ref": openid,
        "submitted_by": "channel:wechat",
    }


@pytest.mark.parametrize("mode", ["aes", "compat"])
async def test_safe_and_compatibility_mode_are_answered_encrypted(
    wechat: WeChat, api: httpx.AsyncClient, db: asyncpg.Pool, mode: str
) -> None:
    reply = await wechat.push(text(new_openid(), "楼道里堆满杂物，存在消防隐患"), mode=mode)
    assert reply.encrypted
    case_no = case_no_of(reply)
    case = (await api.get(f"/api/v1/cases/{await case_id_of(db, case_no)}")).json()
    assert case["description"] == "楼道里堆满杂物，存在消防隐患"


async def test_compatibility_mode_trusts_the_ciphertext_not_the_plaintext_copy(
    wechat: WeChat, db: asyncpg.Pool
) -> None:
    openid = new_openid()
    push = wechat.build(text(openid, "真实内容：井盖丢失"), mode="compat")
    forged = push.body.replace("真实内容：井盖丢失".encode(), "伪造内容".encode())
    reply = await wechat.send(Push(push.params, forged, push.mode))
    case_no = case_no_of(reply)
    assert (
        await db.fetchval("SELECT description FROM cases WHERE case_no = $1", case_no) == "真实内容：井盖丢失"
    )


async def test_a_bad_signature_is_refused_and_opens_no_case(wechat: WeChat, db: asyncpg.Pool) -> None:
    msg_id = new_msg_id()
    reply = await wechat.push(text(new_openid(), "伪造的消息", msg_id), token="not-the-token")
    assert reply.status == 403
    # Safe mode with a msg_signature that doesn't cover the ciphertext.
    push = wechat.build(text(new_openid(), "篡改的密文", msg_id), mode="aes")
    reply = await wechat.send(Push(push.params | {"msg_signature": "0" * 40}, push.body, push.mode))
    assert reply.status == 403
    assert await db.fetchval("SELECT count(*) FROM cases WHERE external_id = $1", f"wx:{msg_id}") == 0
    assert await outcomes_of(db, push.params["nonce"]) == ["rejected"]


async def test_malformed_and_hostile_xml_is_a_400(wechat: WeChat) -> None:
    openid = new_openid()
    for body in (
        b"<xml><Content>unclosed</xml>",
        b'<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Content>&xxe;</Content></xml>',
        b"",
    ):
        push = wechat.build(text(openid, "x"))
        reply = await wechat.send(Push(push.params, body, "plain"))
        assert reply.status == 400, reply.body


async def test_three_concurrent_deliveries_of_one_message_make_one_case(
    wechat: WeChat, db: asyncpg.Pool
) -> None:
    msg_id = new_msg_id()
    push = wechat.build(text(new_openid(), "路边井盖松动，有车经过就响", msg_id))
    replies = await asyncio.gather(*(wechat.send(push) for _ in range(3)))
    assert [r.status for r in replies] == [200] * 3
    assert len({r.content for r in replies}) == 1, [r.content for r in replies]
    assert await db.fetchval("SELECT count(*) FROM cases WHERE external_id = $1", f"wx:{msg_id}") == 1
    assert await outcomes_of(db, push.params["nonce"]) == ["accepted", "duplicate", "duplicate"]


async def test_a_retry_gets_the_same_reply_and_a_replayed_nonce_with_another_message_is_refused(
    wechat: WeChat, db: asyncpg.Pool
) -> None:
    openid = new_openid()
    push = wechat.build(text(openid, "垃圾桶满了没人清运"))
    first = await wechat.send(push)
    again = await wechat.send(push)  # WeChat's retry: the same request
    assert again.status == 200 and again.content == first.content
    # The same signed URL (timestamp, nonce, signature) with another message: a replay.
    other_msg_id = new_msg_id()
    replayed = Push(push.params, text(openid, "借用签名的另一条消息", other_msg_id).encode(), "plain")
    reply = await wechat.send(replayed)
    assert reply.status == 403 and reply.body and "nonce" in reply.body
    assert await db.fetchval("SELECT count(*) FROM cases WHERE external_id = $1", f"wx:{other_msg_id}") == 0


async def test_an_old_timestamp_is_refused(wechat: WeChat) -> None:
    old = str(int(time.time()) - 3600)
    reply = await wechat.push(text(new_openid(), "一小时前签名的请求"), timestamp=old)
    assert reply.status == 403 and "时间戳" in reply.body


async def test_a_description_a_place_and_a_photo_make_one_routed_case(
    wechat: WeChat, api: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    grid = GRIDS[7]
    lon, lat = SAMPLE_POINTS[grid]
    lon, lat = lon + random.uniform(-0.0002, 0.0002), lat + random.uniform(-0.0002, 0.0002)
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)  # WeChat sends GCJ-02
    openid = new_openid()

    first = await wechat.push(text(openid, "人行道上的路灯不亮了，晚上很黑"))
    case_no = case_no_of(first)
    placed = await wechat.push(location(openid, g_lon, g_lat, "柳塘路88号附近"))
    assert placed.content == f"已将您补充的位置并入案件{case_no}。"
    photo = await wechat.push(image(openid, "media-" + uuid.uuid4().hex[:8]))
    assert photo.content == f"已将您补充的照片并入案件{case_no}。"

    case_id = await case_id_of(db, case_no)

    async def routed() -> dict[str, Any] | None:
        body: dict[str, Any] = (await api.get(f"/api/v1/cases/{case_id}")).json()
        done = body["status"] in ("dispatched", "triage") and body["grid_code"] == grid
        return body if done else None

    case = await wait_for(routed, timeout=30, what="the WeChat case routed to its grid")
    assert case["description"].startswith("人行道上的路灯不亮了，晚上很黑")
    # Back to WGS-84 from GCJ-02 to well below a metre.
    assert case["location"]["lat"] == pytest.approx(lat, abs=1e-6)
    assert case["location"]["lon"] == pytest.approx(lon, abs=1e-6)
    assert [a["kind"] for a in case["attachments"]] == ["image"]
    assert (
        await db.fetchval("SELECT address FROM cases WHERE id = $1", uuid.UUID(case_id)) == "柳塘路88号附近"
    )
    assert await db.fetchval("SELECT count(*) FROM cases WHERE reporter_ref = $1", openid) == 1

    # 查询: the resident's own cases; another resident's number is not found.
    listed = await wechat.push(text(openid, "查询"))
    assert listed.content is not None and case_no in listed.content
    assert re.search(rf"{case_no}：(已派遣|待分拣|已上报)", listed.content), listed.content
    one = await wechat.push(text(openid, f"查询 {case_no}"))
    assert one.content is not None and one.content.startswith(f"案件{case_no}：")
    stranger = await wechat.push(text(new_openid(), f"查询 {case_no}"))
    assert stranger.content is not None and stranger.content.startswith("未找到您的该案件")
    assert case_no not in stranger.content


async def test_after_the_window_a_message_opens_a_new_case(wechat: WeChat, db: asyncpg.Pool) -> None:
    openid = new_openid()
    first = case_no_of(await wechat.push(text(openid, "小区门口有人占道经营")))
    await expire_session(db, openid)
    second = case_no_of(await wechat.push(text(openid, "河道里漂着很多垃圾")))
    assert second != first


async def test_a_merged_case_is_shown_as_merged_and_takes_messages_for_its_original(
    wechat: WeChat, api: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    openid = new_openid()
    original_no = case_no_of(await wechat.push(text(openid, "小区健身器材坏了，螺丝松动")))
    await expire_session(db, openid)
    merged_no = case_no_of(await wechat.push(text(openid, "健身器材还是坏的，很危险")))
    original, merged = await case_id_of(db, original_no), await case_id_of(db, merged_no)
    await case_in_status(api, merged, "triage")
    r = await api.post(
        f"/api/v1/cases/{merged}/actions",
        json={"action": "mark_duplicate", "original_case_id": original, "note": "同一问题"},
        headers=role_headers("operator"),
    )
    assert r.status_code == 200, r.text  # no place given: both wait in triage (no_location)
    listed = await wechat.push(text(openid, "查询"))
    assert listed.content is not None and f"{merged_no}：已并入案件{original_no}办理" in listed.content
    # The session's case was merged: what comes next goes to the original.
    photo = await wechat.push(image(openid, "after-merge"))
    assert photo.content == f"已将您补充的照片并入案件{original_no}。"


async def test_an_image_first_opens_the_case_with_the_photo(
    wechat: WeChat, api: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    reply = await wechat.push(image(new_openid(), "first-photo"))
    case_id = await case_id_of(db, case_no_of(reply))
    case = (await api.get(f"/api/v1/cases/{case_id}")).json()
    assert case["description"] == "（图片上报）" and [a["kind"] for a in case["attachments"]] == ["image"]
    outcomes = await db.fetch("SELECT outcome FROM raw_inbound WHERE case_id = $1", uuid.UUID(case_id))
    assert [r["outcome"] for r in outcomes] == ["accepted"]


async def test_a_voice_message_with_recognition_becomes_the_description(
    wechat: WeChat, api: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    reply = await wechat.push(voice(new_openid(), "菜市场门口的下水道堵了"), mode="aes")
    case_no = case_no_of(reply)
    case = (await api.get(f"/api/v1/cases/{await case_id_of(db, case_no)}")).json()
    assert case["description"] == "菜市场门口的下水道堵了"


async def test_subscribing_is_welcomed_and_other_messages_are_answered_politely(wechat: WeChat) -> None:
    openid = new_openid()
    welcome = await wechat.push(event(openid, "subscribe"), mode="aes")
    assert welcome.content is not None and "感谢关注" in welcome.content and "查询" in welcome.content
    bye = await wechat.push(event(openid, "unsubscribe"))
    assert bye.status == 200 and bye.body == "success"
    video = _xml(openid, "video", "<MediaId><![CDATA[v]]></MediaId>", msg_id=new_msg_id())
    polite = await wechat.push(video)
    assert polite.content is not None and polite.content.startswith("暂不支持此类消息")
    nothing = await wechat.push(text(openid, "查询"))
    assert nothing.content is not None and "还没有" in nothing.content
    menu = _xml(
        openid, "event", "<Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[QUERY]]></EventKey>", msg_id=None
    )
    assert (await wechat.push(menu)).content == nothing.content


async def test_a_resident_over_their_rate_gets_a_polite_reply(wechat: WeChat) -> None:
    openid = new_openid()
    # A burst of 5, then one every 3 s (20 a minute): eight in a row can't all pass.
    replies = [await wechat.push(text(openid, "查询")) for _ in range(8)]
    assert all(r.status == 200 for r in replies)  # WeChat wants a 200: the refusal is a passive reply
    contents = [r.content or "" for r in replies]
    assert not any(c.startswith("操作过于频繁") for c in contents[:5]), contents
    assert any(c.startswith("操作过于频繁") for c in contents[5:]), contents


async def test_zz_every_request_was_kept_raw_with_an_outcome(db: asyncpg.Pool) -> None:
    """Runs last in this module: each request sent above (by its nonce) left a raw row with an outcome."""
    assert SENT
    rows = await db.fetch(
        "SELECT substring(path from '[?&]nonce=([0-9]+)') AS nonce, outcome, headers, path "
        "FROM raw_inbound WHERE channel = 'wechat' AND path LIKE '/channels/wechat?%'"
    )
    kept: Counter[str] = Counter()
    for row in rows:
        if row["nonce"] in SENT:
            kept[row["nonce"]] += 1
            assert row["outcome"] != "received", row["path"]
            assert "signature=" in row["path"] and row["headers"] is not None
    missing = {n: c for n, c in SENT.items() if kept[n] < c}
    assert not missing, missing

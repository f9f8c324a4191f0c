"""WeChat's callback protocol, free of HTTP and the database: signatures, safe mode's AES envelope,
safe XML parsing into typed messages, and the passive reply's XML.

Signatures and AES come from wechatpy (the maintained SDK). Its own XML parsing (xmltodict) is never
given a request body: every body is parsed here with defusedxml, DTDs forbidden, and only the
``Encrypt`` string is handed to wechatpy to check and decrypt.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import check_signature

# The request guard caps bodies already; this holds wherever a body comes from (a replay, a test).
MAX_XML_BYTES = 64 * 1024
# A resident's text as a case description: the ledger's API takes at most this much.
MAX_TEXT_CHARS = 4000


class ProtocolError(Exception):
    """The request breaks WeChat's protocol; ``reason`` is a short Chinese explanation."""

    status = 400
    error = "bad_request"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadXml(ProtocolError):
    error = "invalid_xml"


class BadMessage(ProtocolError):
    error = "invalid_message"


class BadSignature(ProtocolError):
    status = 403
    error = "bad_signature"


class BadAppId(ProtocolError):
    status = 403
    error = "bad_appid"


class BadCiphertext(ProtocolError):
    error = "bad_ciphertext"


# --- signatures and time ------------------------------------------------------------------------


def signature_ok(token: str, signature: str, timestamp: str, nonce: str) -> bool:
    """The URL signature: sha1 of the sorted [token, timestamp, nonce], as wechatpy checks it."""
    try:
        check_signature(token, signature, timestamp, nonce)
    except InvalidSignatureException:
        return False
    return True


def timestamp_ok(timestamp: str, window_s: float, *, now: float | None = None) -> bool:
    """Within ± ``window_s`` of our clock: an old signed request replayed later is refused."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    return abs(current - ts) <= window_s


class Cipher:
    """Safe mode's envelope (AES-256-CBC with the EncodingAESKey, the AppID inside), via wechatpy."""

    def __init__(self, token: str, aes_key: str, appid: str) -> None:
        try:
            self._crypto = WeChatCrypto(token, aes_key, appid)
        except Exception as exc:  # wechatpy asserts the key's length; a bad base64 raises binascii.Error
            raise ValueError("EncodingAESKey must be 43 characters of base64") from exc

    def decrypt(self, encrypt: str, *, msg_signature: str, timestamp: str, nonce: str) -> bytes:
        """The inner XML, once msg_signature (sha1 of sorted [token, timestamp, nonce, Encrypt]) and
        the AppID inside the plaintext match."""
        try:
            # A dict, not the body: wechatpy would parse a string with xmltodict (no DTD protection).
            inner: str = self._crypto.decrypt_message({"Encrypt": encrypt}, msg_signature, timestamp, nonce)
        except InvalidSignatureException:
            raise BadSignature("消息签名（msg_signature）校验失败") from None
        except InvalidAppIdException:
            raise BadAppId("消息中的AppID与本公众号不符") from None
        except Exception:  # bad base64, length, padding or UTF-8: whatever it is, it's not WeChat's
            raise BadCiphertext("加密消息无法解密") from None
        return inner.encode("utf-8")

    def encrypt(self, reply_xml: str, *, nonce: str, timestamp: str) -> str:
        """The reply envelope: ``<xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>``."""
        envelope: str = self._crypto.encrypt_message(reply_xml, nonce, timestamp)
        return envelope


# --- XML ------------------------------------------------------------------------------------------


def parse_xml(body: bytes) -> dict[str, str]:
    """A WeChat XML document (a flat ``<xml>`` of fields) as a dict; no DTD, no entity, no bomb."""
    if len(body) > MAX_XML_BYTES:
        raise BadXml(f"XML超过{MAX_XML_BYTES // 1024}KB上限")
    if not body.strip():
        raise BadXml("请求体为空")
    try:
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise BadXml("XML中不允许DTD或实体声明") from None
    except (ParseError, ValueError, UnicodeError, LookupError):  # LookupError: an unknown encoding named
        raise BadXml("XML格式错误") from None
    if root.tag != "xml":
        raise BadXml("根元素须为<xml>")
    fields: dict[str, str] = {}
    for child in root:
        if isinstance(child.tag, str) and child.tag not in fields:  # the first one wins; comments skipped
            fields[child.tag] = (child.text or "").strip()
    return fields


def _cdata(value: str) -> str:
    # "]]>" can't appear inside CDATA: split it across two sections.
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply_xml(*, to_user: str, from_user: str, content: str, now: int | None = None) -> str:
    """A passive text reply (to the resident, from the official account)."""
    created = int(time.time()) if now is None else now
    return (
        "<xml>"
        f"<ToUserName>{_cdata(to_user)}</ToUserName>"
        f"<FromUserName>{_cdata(from_user)}</FromUserName>"
        f"<CreateTime>{created}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{_cdata(content)}</Content>"
        "</xml>"
    )


# --- messages -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    """What every pushed message carries. ``from_user`` is the resident's openid."""

    to_user: str
    from_user: str
    create_time: int
    msg_type: str
    msg_id: str | None

    @property
    def key(self) -> str:
        """WeChat's retries repeat it: MsgId, or for events (which have none) sender and time."""
        return self.msg_id if self.msg_id else f"{self.from_user}:{self.create_time}"


@dataclass(frozen=True, slots=True)
class TextMessage(Message):
    content: str


@dataclass(frozen=True, slots=True)
class ImageMessage(Message):
    pic_url: str | None
    media_id: str | None


@dataclass(frozen=True, slots=True)
class VoiceMessage(Message):
    media_id: str | None
    recognition: str | None  # speech recognition's text, when the account has it switched on


@dataclass(frozen=True, slots=True)
class LocationMessage(Message):
    lat: float  # Location_X, GCJ-02
    lon: float  # Location_Y, GCJ-02
    scale: int | None
    label: str | None


@dataclass(frozen=True, slots=True)
class EventMessage(Message):
    event: str  # lower case: subscribe, unsubscribe, click, location …
    event_key: str | None

    @property
    def key(self) -> str:
        # WeChat's advice is sender and time; the event's name keeps a subscribe and an unsubscribe
        # in the same second apart, and a retry still has all three.
        return f"{self.from_user}:{self.create_time}:{self.event}"


@dataclass(frozen=True, slots=True)
class OtherMessage(Message):
    """video, shortvideo, link, file …: answered politely, not taken in."""


_OPENID = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")
_MSG_ID = re.compile(r"^[0-9]{1,32}$")


def _required(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name, "")
    if not value:
        raise BadMessage(f"缺少字段{name}")
    return value


def _optional(fields: Mapping[str, str], name: str, limit: int = 1000) -> str | None:
    value = fields.get(name, "")
    return value[:limit] if value else None


def _coordinate(fields: Mapping[str, str], name: str, bound: float) -> float:
    try:
        value = float(_required(fields, name))
    except ValueError:
        raise BadMessage(f"字段{name}不是数字") from None
    if not math.isfinite(value) or abs(value) > bound:
        raise BadMessage(f"字段{name}超出范围")
    return value


def parse_message(fields: Mapping[str, str]) -> Message:
    """The pushed XML's fields as a typed message; BadMessage when a required field is missing."""
    from_user = _required(fields, "FromUserName")
    if not _OPENID.match(from_user):
        raise BadMessage("FromUserName格式错误")
    try:
        create_time = int(_required(fields, "CreateTime"))
    except ValueError:
        raise BadMessage("CreateTime不是整数") from None
    msg_type = _required(fields, "MsgType").lower()[:32]
    msg_id = _optional(fields, "MsgId")
    if msg_id is not None and not _MSG_ID.match(msg_id):
        raise BadMessage("MsgId格式错误")
    common = Message(
        to_user=fields.get("ToUserName", "")[:128],
        from_user=from_user,
        create_time=create_time,
        msg_type=msg_type,
        msg_id=msg_id,
    )
    base = (common.to_user, common.from_user, common.create_time, common.msg_type, common.msg_id)
    if msg_type == "event":
        return EventMessage(
            *base, event=_required(fields, "Event").lower()[:64], event_key=_optional(fields, "EventKey", 200)
        )
    if msg_id is None:  # every message but an event has one; without it a retry can't be told apart
        raise BadMessage("缺少字段MsgId")
    if msg_type == "text":
        return TextMessage(*base, content=fields.get("Content", "")[:MAX_TEXT_CHARS])
    if msg_type == "image":
        return ImageMessage(
            *base, pic_url=_optional(fields, "PicUrl"), media_id=_optional(fields, "MediaId", 200)
        )
    if msg_type == "voice":
        return VoiceMessage(
            *base,
            media_id=_optional(fields, "MediaId", 200),
            recognition=_optional(fields, "Recognition", MAX_TEXT_CHARS),
        )
    if msg_type == "location":
        scale = fields.get("Scale", "")
        return LocationMessage(
            *base,
            lat=_coordinate(fields, "Location_X", 90.0),
            lon=_coordinate(fields, "Location_Y", 180.0),
            scale=int(scale) if scale.isascii() and scale.isdigit() and len(scale) < 6 else None,
            label=_optional(fields, "Label", 300),
        )
    return OtherMessage(*base)

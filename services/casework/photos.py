"""Photos of results and checks: the type is read from the content (never the file name or the
client's Content-Type), the size is limited, and the file is kept under the media directory by id."""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from schemas.identity import Actor

# Magic numbers of the formats we take.
_SIGNATURES: tuple[tuple[str, str, bytes, int], ...] = (
    ("image/jpeg", "jpg", b"\xff\xd8\xff", 0),
    ("image/png", "png", b"\x89PNG\r\n\x1a\n", 0),
)


class BadPhoto(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class StoredPhoto:
    photo_id: uuid.UUID
    content_type: str
    size: int


def sniff(data: bytes) -> tuple[str, str]:
    """(content type, extension) from the bytes themselves; BadPhoto if not JPEG, PNG or WebP."""
    for content_type, ext, magic, offset in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return content_type, ext
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    raise BadPhoto("只接受 JPEG、PNG 或 WebP 格式的照片（按文件内容判断）")


def check(data: bytes, *, max_bytes: int, name: str) -> tuple[str, str]:
    if not data:
        raise BadPhoto(f"照片“{name}”是空文件")
    if len(data) > max_bytes:
        raise BadPhoto(f"照片“{name}”超过{max_bytes // (1024 * 1024) or 1}MB上限")
    try:
        return sniff(data)
    except BadPhoto:
        raise BadPhoto(f"照片“{name}”不是 JPEG、PNG 或 WebP 格式（按文件内容判断）") from None


async def store(
    conn: asyncpg.Connection,
    *,
    media_dir: Path,
    case_id: uuid.UUID,
    data: bytes,
    content_type: str,
    ext: str,
    uploader: Actor,
) -> StoredPhoto:
    """Write the file (then the row, in the caller's transaction): a crash leaves at most an orphan file."""
    photo_id = uuid.uuid4()
    relative = Path(str(case_id)) / f"{photo_id}.{ext}"
    target = media_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    label = f"{uploader.name}（{uploader.unit}）" if uploader.name and uploader.unit else uploader.id
    await conn.execute(
        "INSERT INTO case_photos (id, case_id, path, content_type, size, sha256, uploaded_by, uploaded_by_label) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        photo_id,
        case_id,
        str(relative),
        content_type,
        len(data),
        hashlib.sha256(data).hexdigest(),
        uploader.id,
        label,
    )
    return StoredPhoto(photo_id, content_type, len(data))

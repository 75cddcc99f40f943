"""Media facts without a network: the emulator never downloads an input. A medium's duration
and size come from hints in its URL (``?duration=12.5&width=1920&height=1080&size=1024``),
from the bytes when they were uploaded to the emulator (WAV and MP4 headers are read), or
from per-kind defaults. Outputs are a real, playable MP4 bundled with the package.

    >>> probe_url("https://e.x/a.wav?duration=3.5").duration
    3.5
    >>> probe_url("https://e.x/v.mp4").duration
    10.0
"""

from __future__ import annotations

import io
import ipaddress
import mimetypes
import re
import struct
import wave
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

DEFAULT_DURATION = 10.0

VIDEO_EXT = {"mp4", "mov", "qt", "webm", "avi", "mkv", "m4v"}
AUDIO_EXT = {"wav", "mp3", "ogg", "flac", "alac", "m4a", "aac", "wma", "m3a", "opus"}
IMAGE_EXT = {"jpg", "jpeg", "png", "webp", "gif", "bmp"}


@dataclass(frozen=True)
class MediaInfo:
    duration: float | None
    width: int | None = None
    height: int | None = None
    size: int | None = None
    format: str | None = None


def split_url(url: str) -> Any:
    """``urlsplit``, which raises on a malformed host ("http://[x"): such a URL has no host,
    path, query or facts to read, rather than being a server error (found by fuzzing)."""
    try:
        return urlsplit(url)
    except ValueError:
        return urlsplit("")


@dataclass(frozen=True)
class Endpoint:
    """Where a URL leads, parsed once: the webhook guard decides on this and the sender
    connects to exactly this host and port, so no second parser can read the URL otherwise."""

    scheme: str
    host: str  # a name, or an IP address without brackets
    port: int
    target: str  # path and query, as sent in the request line
    netloc: str  # for the Host header

    @property
    def loopback(self) -> bool:
        return loopback_host(self.host)


def loopback_host(host: str) -> bool:
    """A loopback address, or a name reserved for one (``localhost``, ``*.localhost``: RFC
    6761; resolved locally, never through DNS)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return bool((getattr(ip, "ipv4_mapped", None) or ip).is_loopback)


# host[:port], the host a DNS name or IPv4 address, or a bracketed IPv6 literal
_NETLOC = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::([0-9]{0,5}))?")
_AMBIGUOUS = re.compile(r"[\x00-\x20\x7f\\]")


def endpoint(url: str) -> Endpoint:
    """An http(s) URL's endpoint, or ``ValueError`` naming what is wrong. Refused, because
    HTTP libraries and browsers read them differently: a backslash, whitespace or control
    character anywhere, credentials before the host, a host of anything but name or address
    characters."""
    if not isinstance(url, str) or _AMBIGUOUS.search(url):
        raise ValueError("the URL has a backslash, whitespace or a control character")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ValueError("the URL cannot be parsed") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError("the URL must be http:// or https://")
    if "@" in parts.netloc:
        raise ValueError("the URL must not carry credentials before the host")
    match = _NETLOC.fullmatch(parts.netloc)
    if match is None:
        raise ValueError("the URL's host is not a name or an address")
    host, port_text = match.group(1), match.group(2)
    if port_text and not 0 < int(port_text) < 65536:
        raise ValueError("the URL's port is not a number from 1 to 65535")
    port = int(port_text) if port_text else (443 if scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Endpoint(scheme, host.strip("[]").lower(), port, target, parts.netloc)


# Pure functions of a URL that every create asks about several times (a fifth of a sync.so
# create's time went to parsing the same two URLs again): cached.
@lru_cache(maxsize=4096)
def extension(url: str) -> str:
    return PurePosixPath(split_url(url).path).suffix.lstrip(".").lower()


def kind_of(url: str) -> str | None:
    ext = extension(url)
    for kind, exts in (("video", VIDEO_EXT), ("audio", AUDIO_EXT), ("image", IMAGE_EXT)):
        if ext in exts:
            return kind
    return None


@lru_cache(maxsize=4096)
def probe_url(url: str) -> MediaInfo:
    """Facts about a remote medium, from the hints in its URL."""
    query = parse_qs(split_url(url).query)

    def num(name: str) -> float | None:
        try:
            return float(query[name][0])
        except (KeyError, ValueError, IndexError):
            return None

    duration = num("duration")
    width, height, size = num("width"), num("height"), num("size")
    ext = extension(url) or None
    if duration is None and kind_of(url) != "image":
        duration = DEFAULT_DURATION
    return MediaInfo(duration=duration, width=int(width) if width else None,
                     height=int(height) if height else None, size=int(size) if size else None, format=ext)


def probe_bytes(data: bytes) -> MediaInfo:
    """Facts about uploaded bytes: WAV and MP4/MOV durations are read from their headers."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        try:
            with wave.open(io.BytesIO(data)) as w:
                return MediaInfo(duration=w.getnframes() / float(w.getframerate()), size=len(data), format="wav")
        except (wave.Error, EOFError, ZeroDivisionError):
            return MediaInfo(duration=None, size=len(data), format="wav")
    if data[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide"):
        return MediaInfo(duration=_mp4_duration(data), size=len(data), format="mp4")
    return MediaInfo(duration=DEFAULT_DURATION, size=len(data))


def _mp4_duration(data: bytes) -> float | None:
    """Duration from the ``mvhd`` box (walks top-level boxes, then ``moov``)."""
    def boxes(buf: bytes, start: int, end: int):
        pos = start
        while pos + 8 <= end:
            size, kind = struct.unpack(">I4s", buf[pos:pos + 8])
            header = 8
            if size == 1 and pos + 16 <= end:
                size = struct.unpack(">Q", buf[pos + 8:pos + 16])[0]
                header = 16
            elif size == 0:
                size = end - pos
            if size < header:
                return
            yield kind, pos + header, min(pos + size, end)
            pos += size

    for kind, body, end in boxes(data, 0, len(data)):
        if kind != b"moov":
            continue
        for sub, sbody, send in boxes(data, body, end):
            if sub == b"mvhd" and send - sbody >= 20:
                version = data[sbody]
                if version == 1 and send - sbody >= 32:
                    scale, dur = struct.unpack(">IQ", data[sbody + 20:sbody + 32])
                else:
                    scale, dur = struct.unpack(">II", data[sbody + 12:sbody + 20])
                return dur / scale if scale else None
    return None


def save_upload(rt: Any, data: bytes, filename: str, base: str) -> str:
    """Keep uploaded bytes and return the emulator URL serving them. The URL carries the
    probed duration as a hint, so later rules see the real length of the upload."""
    file_id = rt.ids.uuid()
    name = PurePosixPath(filename.replace("\\", "/")).name or "upload"
    rt.store.put("files", file_id, {"data": data, "name": name, "mimetype": mimetype_for(name)})
    info = probe_bytes(data)
    url = f"{base}/_emulator/files/{file_id}/{quote(name)}"
    return url + (f"?duration={info.duration:g}" if info.duration else "")


def mimetype_for(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


@lru_cache(maxsize=1)  # read once: every completed sync.so generation asks for its size
def sample_mp4() -> bytes:
    """The bundled output video: 2 s, 160x120 H.264 + AAC, faststart."""
    return resources.files("lipsync_emulator.core").joinpath("assets/sample.mp4").read_bytes()

"""What the build keeps between runs, so that a build with nothing changed takes seconds.

Every stored result is a pure function of its inputs, and is stored under a key made from all
of them (the digest of the source it was computed by, and its arguments): a changed input is
another key, so a stale entry is never read, only left behind (``make clean`` does not touch
the cache; deleting ``.cache/`` is always safe). Three kinds of result are kept:

    replies/   vi_core protocol replies that the build asks for (``CachedSession``): the Reset
               q of every target x family is most of a build's time
    files/     files made from other files (``Memo.folder``): the vi_core wheel, repacked zips
    text/      text made from bytes (``Memo.text``): standalone.html's gzip + base64 copies

The claims keep their own marks (``sitegen.claims``), keyed the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import vi_core
from vi_core.protocol import Session

__all__ = ["CachedSession", "Handler", "Memo", "build_session", "source_digest"]


def source_digest(paths: Iterable[Path], extra: Iterable[bytes | str] = ()) -> str:
    """sha256 over the given files and folders (each folder's ``*.py`` files, in sorted
    order, by relative path and content) and ``extra``: what a result computed by that code
    depends on."""
    digest = hashlib.sha256()
    for path in paths:
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        base = path if path.is_dir() else path.parent
        for file in files:
            digest.update(file.relative_to(base).as_posix().encode() + b"\0")
            digest.update(file.read_bytes() + b"\0")
    for part in extra:
        digest.update((part.encode() if isinstance(part, str) else part) + b"\0")
    return digest.hexdigest()


def _key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all (a build stopped half-way leaves no torn entry)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


class Memo:
    """Results kept under ``root`` (None: nothing is kept, everything is computed)."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def text(self, kind: str, key_parts: Iterable[str], compute: Callable[[], str]) -> str:
        """``compute()``, or what it returned before for the same key."""
        if self.root is None:
            return compute()
        path = self.root / "text" / kind / _key(*key_parts)
        if path.exists():
            return path.read_text(encoding="utf-8")
        value = compute()
        _write_atomically(path, value.encode("utf-8"))
        return value

    def folder(self, kind: str, key_parts: Iterable[str],
               compute: Callable[[Path], None]) -> Path:
        """A folder that ``compute(folder)`` fills, made once per key (a build stopped half-way
        leaves only a hidden ``.part-`` folder behind, never a torn entry)."""
        if self.root is None:
            folder = Path(tempfile.mkdtemp(prefix=f"vi-{kind}-"))
            compute(folder)
            return folder
        folder = self.root / "files" / kind / _key(*key_parts)
        if folder.is_dir():
            return folder
        folder.parent.mkdir(parents=True, exist_ok=True)
        part = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".part-"))
        compute(part)
        os.replace(part, folder)
        return folder


class Handler(Protocol):
    """What answers protocol requests: a ``Session``, or a ``CachedSession`` around one."""

    def handle(self, request: dict[str, Any]) -> dict[str, Any]: ...


class CachedSession:
    """A protocol session whose replies to pure requests are kept: the same request to the same
    source gives the same reply (JSON keeps floats exactly, so a kept reply is the reply).
    Requests that change the session (a custom target, data) are not kept, and neither are
    error replies."""

    #: Methods whose reply depends on their params and the source alone.
    PURE = frozenset({"catalog", "evaluate", "target_grid", "fit", "compare", "forces"})

    def __init__(self, session: Handler, memo: Memo, source: str) -> None:
        self.session, self.memo, self.source = session, memo, source

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("method") not in self.PURE or self.memo.root is None:
            return self.session.handle(request)
        path = self.memo.root / "replies" / _key(self.source, json.dumps(request, sort_keys=True))
        if path.exists():
            reply: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return reply
        reply = self.session.handle(request)
        if reply.get("ok"):
            _write_atomically(path, json.dumps(reply).encode("utf-8"))
        return reply


def build_session(memo: Memo) -> CachedSession:
    """The build's protocol session: its replies are kept per source, vi_core's (the protocol
    included), which decides every number."""
    return CachedSession(Session(), memo, source_digest([Path(vi_core.__file__).parent]))

"""A durable, bounded on-disk spool of verified deliveries, kept while Redis is unreachable.

One append-only file of records, each `magic | length | crc32 | received_at | payload`, the
payload being one line of JSON (delivery id and the headers the intake reads) and the raw body.
Appends take an exclusive `flock` on the file, write the whole record and `fsync` before the
caller answers; a fresh descriptor per append makes this safe across threads and processes.
One drainer at a time (a `flock` on `drain.lock`) reads from the offset in `drained.offset`,
which it writes and `fsync`s after each record; when it has caught up it empties the file.
A record whose checksum does not match (a write torn by a crash of the host) is skipped with a
log line, and reading resumes at the next magic.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import structlog

log = structlog.get_logger(__name__)

MAGIC = b"\xff\xfeSP"  # never in UTF-8 JSON, so a resync cannot stop inside a body
HEADER = struct.Struct(">4sIId")  # magic, payload length, crc32 of time and payload, received_at
DATA = "deliveries.spool"
OFFSET = "drained.offset"
DRAIN_LOCK = "drain.lock"
KEPT_HEADERS = ("X-Event-Key", "X-Request-UUID", "X-Request-Id", "X-Hook-UUID", "X-Attempt-Number")
_READ = 64 * 1024


class SpoolFull(Exception):
    """The delivery would take the spool past `global.relay.spool.maxBytes`."""


@dataclass(frozen=True)
class SpooledDelivery:
    """What the intake needs to run a verified delivery again."""

    delivery_id: str
    headers: dict[str, str]
    body: bytes
    received_at: float

    def encode(self) -> bytes:
        meta = json.dumps({"delivery_id": self.delivery_id, "headers": self.headers})
        payload = meta.encode() + b"\n" + self.body
        stamp = struct.pack(">d", self.received_at)
        crc = zlib.crc32(stamp + payload)
        return HEADER.pack(MAGIC, len(payload), crc, self.received_at) + payload

    @classmethod
    def decode(cls, payload: bytes, received_at: float) -> SpooledDelivery:
        meta, _, body = payload.partition(b"\n")
        fields = json.loads(meta)
        return cls(fields["delivery_id"], fields["headers"], body, received_at)


@dataclass(frozen=True)
class SpoolStats:
    depth: int
    bytes: int
    oldest_age: float

    def as_dict(self) -> dict[str, float]:
        return {"depth": self.depth, "bytes": self.bytes, "oldest_age": round(self.oldest_age, 3)}


class Spool:
    """The spool directory: append, read what is pending, record progress, empty when drained."""

    def __init__(self, directory: str, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.data = os.path.join(directory, DATA)
        self.offset_file = os.path.join(directory, OFFSET)

    def append(self, delivery: SpooledDelivery) -> None:
        """Write the record and fsync it; SpoolFull or OSError when it cannot be kept."""
        record = delivery.encode()
        created = self._prepare()
        fd = os.open(self.data, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_size + len(record) > self.max_bytes:
                raise SpoolFull(f"spool at {self.directory} would exceed {self.max_bytes} bytes")
            view = memoryview(record)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _fsync_directory(self.directory)

    def writable(self) -> bool:
        """Whether a delivery could be spooled now (the directory usable, room left)."""
        try:
            self._prepare()
            size = os.stat(self.data).st_size if os.path.exists(self.data) else 0
        except OSError:
            return False
        return os.access(self.directory, os.W_OK) and size < self.max_bytes

    def has_pending(self) -> bool:
        try:
            size = os.stat(self.data).st_size
        except OSError:  # no spool file yet, or no usable directory
            return False
        return size > 0 and size > self.committed()  # an empty file needs no offset read

    def pending(self) -> Iterator[tuple[int, SpooledDelivery | None]]:
        """(offset after it, record) in arrival order; None for bytes skipped as torn."""
        start, end = self.committed(), self._size()
        if start >= end:
            return
        with open(self.data, "rb") as file:
            for next_offset, received_at, payload in _records(
                file.fileno(), start, end, verify=True
            ):
                if payload is None:
                    yield next_offset, None
                else:
                    yield next_offset, SpooledDelivery.decode(payload, received_at)

    def commit(self, offset: int) -> None:
        """Remember durably that everything before `offset` was drained."""
        fd = os.open(self.offset_file, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.pwrite(fd, struct.pack(">Q", offset), 0)
            os.fsync(fd)
        finally:
            os.close(fd)

    def committed(self) -> int:
        try:
            with open(self.offset_file, "rb") as file:
                raw = file.read(8)
        except FileNotFoundError:
            return 0
        return int(struct.unpack(">Q", raw)[0]) if len(raw) == 8 else 0

    def compact(self) -> None:
        """Empty the file once everything in it was drained (offset first: a crash in between
        drains old records again, which the intake's dedupe takes as duplicates)."""
        with contextlib.suppress(FileNotFoundError), open(self.data, "r+b") as file:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX)
            if self.committed() < os.fstat(file.fileno()).st_size:
                return
            self.commit(0)
            file.truncate(0)
            os.fsync(file.fileno())

    @contextlib.contextmanager
    def draining(self) -> Iterator[bool]:
        """Whether this caller is the one drainer (across processes and threads) until exit."""
        self._prepare()
        fd = os.open(os.path.join(self.directory, DRAIN_LOCK), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def stats(self, now: float | None = None) -> SpoolStats:
        start, end = self.committed(), self._size()
        if start >= end:
            return SpoolStats(0, 0, 0.0)
        depth, oldest = 0, None
        with open(self.data, "rb") as file:
            for _, received_at, _ in _records(file.fileno(), start, end, verify=False):
                depth += 1
                oldest = received_at if oldest is None else oldest
        age = max(0.0, (now or time.time()) - oldest) if oldest is not None else 0.0
        return SpoolStats(depth, end - start, age)

    def _prepare(self) -> bool:
        """Make the directory (0700); True when the data file does not exist yet."""
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        return not os.path.exists(self.data)

    def _size(self) -> int:
        """The file's size with no append half-written (appends hold the lock while writing)."""
        try:
            with open(self.data, "rb") as file:
                fcntl.flock(file.fileno(), fcntl.LOCK_SH)
                return os.fstat(file.fileno()).st_size
        except FileNotFoundError:
            return 0


def _records(
    fd: int, start: int, end: int, *, verify: bool
) -> Iterator[tuple[int, float, bytes | None]]:
    """(offset after, received_at, payload) for each record in [start, end); with `verify`,
    payloads are checked and a torn stretch yields (offset after it, 0.0, None) once."""
    position = start
    while position < end:
        header = os.pread(fd, HEADER.size, position)
        good = len(header) == HEADER.size and header[:4] == MAGIC
        if good:
            _, length, crc, received_at = HEADER.unpack(header)
            stop = position + HEADER.size + length
            good = stop <= end
        if good and not verify:
            yield stop, received_at, b""
            position = stop
            continue
        if good:
            payload = os.pread(fd, length, position + HEADER.size)
            good = zlib.crc32(header[12:] + payload) == crc
            if good:
                yield stop, received_at, payload
                position = stop
                continue
        resume = _next_magic(fd, position + 1, end)
        if verify:
            log.warning("spool.torn_record_skipped", offset=position, skipped=resume - position)
            yield resume, 0.0, None
        position = resume


def _next_magic(fd: int, position: int, end: int) -> int:
    """Where the next record may start at or after `position`, or `end`."""
    while position < end:
        chunk = os.pread(fd, min(_READ, end - position) + len(MAGIC) - 1, position)
        found = chunk.find(MAGIC)
        if found >= 0:
            return position + found
        position += max(1, len(chunk) - len(MAGIC) + 1)
    return end


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

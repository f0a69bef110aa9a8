"""Fetch videos ahead of the writer: ``workers`` threads download, one thread cuts and writes.

A unit's ``load`` does its slow work (metadata, download, decoding) before it yields its first segment:
a worker runs each unit up to that first segment, and the build's own thread takes the rest (cutting,
processing, writing) in the order of the list, so the manifest is written in order as with one worker.
At most ``workers`` fetched videos wait for the writer (each holds its decoded audio under ``.work``).

A fetch failing with HTTP 429 (too many requests) or 5xx (a server error) is retried after an exponential
backoff with jitter, a bounded number of times; any other error (a 404, a video without audio) is final.
"""

from __future__ import annotations

import itertools
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

from asmr_zoo.datasource import Segment
from asmr_zoo.errors import DataError, UsageError
from asmr_zoo_sources.base import Unit

MAX_WORKERS = 32
_TRANSIENT_RE = re.compile(r"\bHTTP Error (429|5\d\d)\b")


def check_workers(workers: int) -> int:
    """``--workers``: 1 to ``MAX_WORKERS``."""
    if not 1 <= workers <= MAX_WORKERS:
        raise UsageError(f"--workers must be between 1 and {MAX_WORKERS}, not {workers}")
    return workers


@dataclass(frozen=True)
class RetryPolicy:
    """``tries`` attempts in all; before attempt k (k >= 1) wait ``delay * 2**(k-1)`` s, times 1 to 1.5."""

    tries: int = 4
    delay: float = 2.0

    def wait(self, attempt: int) -> float:
        return self.delay * 2**attempt * random.uniform(1.0, 1.5)

    def ydl_sleep(self, n: int) -> float:
        """yt-dlp's ``retry_sleep_functions``: its own retries of a dropped connection or a 5xx back off too."""
        return self.delay * 2**n


def ydl_params(retry: RetryPolicy) -> dict[str, Any]:
    """YoutubeDL options that make yt-dlp's own retries polite."""
    return {"retry_sleep_functions": {"http": retry.ydl_sleep, "fragment": retry.ydl_sleep}}


def is_transient(exc: BaseException) -> bool:
    """Whether a fetch error is worth retrying: HTTP 429 or 5xx (yt-dlp's messages name the status)."""
    return bool(_TRANSIENT_RE.search(str(exc)))


@dataclass
class Fetched:
    """A unit run up to its first segment: the segments, or the error that stopped it."""

    unit: Unit
    first: list[Segment]
    rest: Iterator[Segment] | None = None
    error: DataError | None = None

    def segments(self) -> Iterator[Segment]:
        if self.error is not None:
            raise self.error
        return chain(self.first, self.rest or ())

    def close(self) -> None:
        """Release what the fetch holds (its temporary folder) without reading the rest."""
        close = getattr(self.rest, "close", None)
        if close is not None:
            close()


def fetch(unit: Unit, retry: RetryPolicy, sleep: Callable[[float], None] = time.sleep) -> Fetched:
    """Run ``unit`` up to its first segment, retrying transient HTTP errors."""
    attempt = 0
    while True:
        try:
            segments = iter(unit.load())
            return Fetched(unit, [next(segments)], segments)
        except StopIteration:
            return Fetched(unit, [])
        except DataError as exc:
            attempt += 1
            if attempt >= retry.tries or not is_transient(exc):
                return Fetched(unit, [], error=exc)
            sleep(retry.wait(attempt - 1))


def fetched_units(units: Sequence[Unit], workers: int, retry: RetryPolicy) -> Iterator[Fetched]:
    """``units`` fetched by ``workers`` threads (in this thread when 1), in their order.

    The threads are daemons: a Ctrl-C does not wait for their downloads (what they leave under ``.work`` is
    swept by the next run)."""
    if workers == 1:
        for unit in units:
            yield fetch(unit, retry)
        return
    room = threading.Semaphore(workers)  # a slot per unit claimed and not yet taken by the writer
    claims = itertools.count()
    results: dict[int, Fetched | BaseException] = {}
    ready = threading.Condition()
    stop = threading.Event()

    def work() -> None:
        while True:
            room.acquire()  # before claiming: the oldest unit taken by no writer yet always has its slot
            index = next(claims)
            if index >= len(units) or stop.is_set():
                room.release()
                return
            try:
                result: Fetched | BaseException = fetch(units[index], retry)
            except BaseException as exc:  # a bug: raised in the writer's thread
                result = exc
            with ready:
                results[index] = result
                ready.notify_all()

    for number in range(min(workers, len(units))):
        threading.Thread(target=work, name=f"asmr-zoo-fetch-{number}", daemon=True).start()
    try:
        for index in range(len(units)):
            with ready:
                ready.wait_for(lambda index=index: index in results)
                result = results.pop(index)
            room.release()
            if isinstance(result, BaseException):
                raise result
            yield result
    finally:  # done, or stopped early: wake idle threads, release what was fetched for nothing
        stop.set()
        for _ in range(workers):
            room.release()
        with ready:
            for left in results.values():
                if isinstance(left, Fetched):
                    left.close()

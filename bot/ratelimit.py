"""Telegram's flood limits, kept by the bot itself instead of learned from 429 answers.

`PeerRateLimiter` is a `telegram.ext.BaseRateLimiter` used for every call the application
makes. Compared with python-telegram-bot's `AIORateLimiter`:

- Only calls that *post a message* are throttled: `send*` (not `sendChatAction`),
  `copyMessage(s)` and `forwardMessage(s)`. Those are what Telegram's limits count.
  `getChatMember`, `answerCallbackQuery`, `deleteMessage`, `stopPoll`, `editMessage*` and
  the rest go out at once (AIORateLimiter puts every call with a negative chat id through
  the 20-a-minute group limit). Edits are left out on purpose: Telegram documents no limit
  for them, the callers that edit repeatedly (the broadcast report) pace themselves, and
  an edit that is refused with 429 is retried below like any other call.
- Per chat: a private chat gets about one message a second with a short burst, a group
  20 a minute. Messages to one chat go out one at a time, in order.
- Overall: at most 30 messages in any one second, shared by every chat (a sliding window,
  not a bucket with a burst: a bucket lets 30 + its burst through in the first second and
  Telegram answers the excess with 429). Interactive calls (the default) are served before
  bulk ones (`rate_limit_args=Priority.BULK`, used by broadcasts), and bulk calls are held
  slightly under the ceiling, so a long broadcast never makes an answer to a person wait
  for more than a moment.
- Shared fairly: within a priority, waiting calls take turns by share (`share`, the group
  of the work: one process serves many groups). A share's next message waits behind one
  message of every other share already waiting, not behind that share's whole backlog, so
  200 groups' polls go out in the first 200 slots even while one group's broadcast has
  thousands of copies queued (fair queueing by rounds: a share's calls are numbered
  round after round; a share that arrives late starts at the round being served).
- A call Telegram answered with a server error (5xx) posted nothing, so it gives its slot
  back: otherwise every failed attempt would lower the rate of the ones that succeed.
- A button's answer that comes too late for Telegram ("query is too old": the bot was
  busy for some 15 seconds) is let go: it only ends the spinner, and its error would undo
  the work the tap did.
- 429 `retry_after` is honoured: the chat is paused for that long and the call is retried,
  at most `max_retries` times. Other errors (5xx, time-outs) are the caller's to judge:
  only the caller knows whether a repeat is safe.

Time comes from `now` and `sleep` (monotonic seconds), injectable for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

# Methods that post a message and so count against Telegram's flood limits.
_MESSAGE_METHODS = frozenset({"copyMessage", "copyMessages", "forwardMessage", "forwardMessages"})


class Priority(IntEnum):
    """Pass as `rate_limit_args`; lower goes first."""

    INTERACTIVE = 0
    BULK = 1


def posts_a_message(endpoint: str) -> bool:
    name = endpoint.rsplit("/", 1)[-1]
    name = name[:1].lower() + name[1:]
    if name == "sendChatAction":
        return False
    return name.startswith("send") or name in _MESSAGE_METHODS


class TokenBucket:
    """`burst` tokens, refilled at `rate` a second."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = now

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def wait_time(self, now: float) -> float:
        self._refill(now)
        # A hair of tolerance: float rounding must not leave a wait too small to advance time.
        return 0.0 if self.tokens >= 1 - 1e-9 else (1 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1

    def drain(self, now: float) -> None:
        self._refill(now)
        self.tokens = min(self.tokens, 0.0)

    def full(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.burst


class SlidingWindow:
    """At most `limit` events in any `span` seconds."""

    def __init__(self, limit: int, span: float = 1.0) -> None:
        self.limit = max(1, limit)
        self.span = span
        self.stamps: deque[float] = deque()

    def wait_time(self, now: float) -> float:
        cutoff = now - self.span
        while self.stamps and self.stamps[0] <= cutoff:
            self.stamps.popleft()
        if len(self.stamps) < self.limit:
            return 0.0
        # Never zero when full (float rounding), so a waiter always sleeps and time moves.
        return max(self.stamps[0] - cutoff, 1e-6)

    def take(self, now: float) -> float:
        self.stamps.append(now)
        return now

    def give_back(self, stamp: float) -> None:
        with contextlib.suppress(ValueError):  # already slid out of the window
            self.stamps.remove(stamp)


@dataclass
class _Chat:
    bucket: TokenBucket
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    blocked_until: float = 0.0

    def wait_time(self, now: float) -> float:
        return max(self.blocked_until - now, self.bucket.wait_time(now))


@dataclass
class RateLimiterStats:
    """Counters for benchmarks and logs."""

    throttled_calls: int = 0
    retry_afters: int = 0
    gave_up: int = 0
    given_back: int = 0  # slots of calls answered with a server error


class PeerRateLimiter(BaseRateLimiter[Priority]):
    """Telegram's limits per chat and overall, with priority for interactive calls."""

    def __init__(
        self,
        *,
        overall_per_second: int = 30,
        bulk_share: float = 0.98,
        private_per_second: float = 1.0,
        private_burst: float = 3.0,
        # A burst plus a minute's refill stays within 20 in any 60 seconds.
        group_per_minute: float = 15.0,
        group_burst: float = 5.0,
        max_retries: int = 4,
        max_retry_after: float = 60.0,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        share: Callable[[], Hashable] | None = None,
    ) -> None:
        self._now = now
        # Whose turn a call is (the group of the work in hand); None: everyone shares one.
        self.share = share
        self._sleep = sleep
        self.private_per_second = private_per_second
        self.private_burst = private_burst
        self.group_per_second = group_per_minute / 60
        self.group_burst = group_burst
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self._overall = SlidingWindow(overall_per_second)
        # Bulk also needs room here: one message a second short of the ceiling, so
        # interactive calls always find a slot within the second.
        bulk_limit = max(1, overall_per_second - 1)
        self._bulk = SlidingWindow(bulk_limit, bulk_limit / (overall_per_second * bulk_share))
        self._chats: dict[int | str, _Chat] = {}
        # Heap of (priority, round, arrival) tickets; per priority the round being served
        # and each share's last round taken (fair queueing).
        self._waiting: list[tuple[int, int, int]] = []
        self._arrivals = itertools.count()
        self._serving = {p: 0 for p in Priority}
        self._last_round: dict[tuple[Priority, Hashable], int] = {}
        self._wakers: dict[tuple[int, int, int], asyncio.Future[None]] = {}
        self.stats = RateLimiterStats()

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    # The one entry point PTB calls ---------------------------------------------------------

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Priority | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        priority = rate_limit_args if isinstance(rate_limit_args, Priority) else Priority(0)
        chat_key = self._chat_key(endpoint, data)
        for attempt in range(self.max_retries + 1):
            try:
                if chat_key is None:
                    return await callback(*args, **kwargs)
                chat = self._chat(chat_key)
                async with chat.lock:
                    slot = await self._wait_turn(chat, priority)
                    try:
                        return await callback(*args, **kwargs)
                    except RetryAfter as error:
                        # Block the chat before releasing it, so no other call slips in.
                        chat.blocked_until = self._now() + retry_seconds(error)
                        raise
                    except NetworkError as error:
                        if server_answered_with_error(error):
                            self._give_back(chat, slot, priority)
                        raise
            except BadRequest as error:
                if not answered_too_late(endpoint, error):
                    raise
                # The answer only ends the button's spinner; failing here would undo the
                # tap's work (its transaction), as 70 of 200 broadcasts sent at once were.
                log.info("a button tap was answered too late (a busy moment); its work stands")
                return True
            except RetryAfter as error:
                wait = retry_seconds(error)
                self.stats.retry_afters += 1
                if attempt == self.max_retries or wait > self.max_retry_after:
                    self.stats.gave_up += 1
                    log.warning("%s: flood limit, giving up after %d tries", endpoint, attempt + 1)
                    raise
                log.info("%s: flood limit, retrying in %.1f s", endpoint, wait)
                if chat_key is None:
                    await self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    # Per chat ------------------------------------------------------------------------------

    def _chat_key(self, endpoint: str, data: dict[str, Any]) -> int | str | None:
        if not posts_a_message(endpoint):
            return None
        chat_id = data.get("chat_id")
        if chat_id is None:
            return None
        try:
            return int(chat_id)
        except (TypeError, ValueError):
            return str(chat_id)  # "@channelusername"

    def _chat(self, key: int | str) -> _Chat:
        chat = self._chats.get(key)
        if chat is None:
            if len(self._chats) > 2048:
                self._forget_idle_chats()
            now = self._now()
            private = isinstance(key, int) and key > 0
            bucket = (
                TokenBucket(self.private_per_second, self.private_burst, now)
                if private
                else TokenBucket(self.group_per_second, self.group_burst, now)
            )
            chat = self._chats[key] = _Chat(bucket)
        return chat

    def _forget_idle_chats(self) -> None:
        now = self._now()
        for key, chat in list(self._chats.items()):
            if not chat.lock.locked() and chat.blocked_until <= now and chat.bucket.full(now):
                del self._chats[key]

    async def _wait_turn(self, chat: _Chat, priority: Priority) -> float:
        """Wait until both the chat and the overall limit allow one more message; returns
        the moment the overall slot was taken (to give it back)."""
        while (wait := chat.wait_time(self._now())) > 0:
            await self._sleep(wait)
        slot = await self._take_overall(priority)
        # Only holders of the chat's lock send to it, so its bucket only grew meanwhile.
        chat.bucket.take(self._now())
        self.stats.throttled_calls += 1
        return slot

    def _give_back(self, chat: _Chat, slot: float, priority: Priority) -> None:
        """Telegram posted nothing: the slot is free again for the next message."""
        self._overall.give_back(slot)
        if priority is Priority.BULK:
            self._bulk.give_back(slot)
        chat.bucket.tokens = min(chat.bucket.burst, chat.bucket.tokens + 1)
        self.stats.given_back += 1
        self._notify()

    # Overall, by priority ------------------------------------------------------------------

    def _round(self, priority: Priority) -> int:
        """This call's round: one after its share's last, never before the one served."""
        share = self.share() if self.share is not None else None
        key = (priority, share)
        serving = self._serving[priority]
        turn = max(serving, self._last_round.get(key, serving - 1) + 1)
        if len(self._last_round) > 4096:  # shares whose rounds are all served start afresh
            self._last_round = {k: r for k, r in self._last_round.items() if r >= serving}
        self._last_round[key] = turn
        return turn

    async def _take_overall(self, priority: Priority) -> float:
        ticket = (int(priority), self._round(priority), next(self._arrivals))
        heapq.heappush(self._waiting, ticket)
        try:
            while True:
                if self._waiting[0] != ticket:
                    # Woken when this ticket becomes the first (only the first is woken:
                    # waking every waiter at each message cost thousands of wake-ups).
                    waker = asyncio.get_running_loop().create_future()
                    self._wakers[ticket] = waker
                    try:
                        await waker
                    finally:
                        del self._wakers[ticket]
                    continue
                now = self._now()
                wait = self._overall.wait_time(now)
                if priority is Priority.BULK:
                    wait = max(wait, self._bulk.wait_time(now))
                if wait <= 0:
                    heapq.heappop(self._waiting)
                    self._serving[priority] = max(self._serving[priority], ticket[1])
                    self._overall.take(now)
                    if priority is Priority.BULK:
                        self._bulk.take(now)
                    return now
                await self._sleep(wait)
        finally:
            if ticket in self._waiting:  # cancelled while waiting
                self._waiting.remove(ticket)
                heapq.heapify(self._waiting)
            self._notify()

    def _notify(self) -> None:
        """The first ticket may have changed: wake its holder if it waits for its turn."""
        if self._waiting:
            waker = self._wakers.get(self._waiting[0])
            if waker is not None and not waker.done():
                waker.set_result(None)


def answered_too_late(endpoint: str, error: BadRequest) -> bool:
    """Telegram refused a button's answer because the tap is too old (about 15 seconds)."""
    return endpoint.endswith("answerCallbackQuery") and "query is too old" in str(error).lower()


def server_answered_with_error(error: NetworkError) -> bool:
    """True for a 5xx answer (PTB raises a plain NetworkError): Telegram posted nothing.
    Not for a time-out or a broken connection, where the message may have gone out."""
    return not isinstance(error, TimedOut) and not str(error).startswith("httpx.")


def retry_seconds(error: RetryAfter) -> float:
    """Seconds to wait, without PTB's deprecation warning about the attribute's type."""
    delay = getattr(error, "_retry_after", None)
    if delay is None:  # pragma: no cover - older PTB
        delay = error.retry_after
    return delay.total_seconds() if hasattr(delay, "total_seconds") else float(delay)


class Turns:
    """At most `capacity` holders at once; whoever waits takes turns by key: a free turn
    goes to the waiting key that holds the fewest, the longest waiting of those first.

    The outbox lanes (a broadcast per group, each with several senders) hold a turn from
    claiming an item to recording Telegram's answer. Without it 200 groups' broadcasts
    claimed 2,400 items at once and their database work queued ahead of every update for
    seconds; with it about a second of Telegram's allowance is in hand, shared evenly by
    the groups sending, however many senders each has."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self.busy = 0
        self._held: dict[Hashable, int] = {}
        self._queues: dict[Hashable, deque[asyncio.Future[None]]] = {}
        self._ring: deque[Hashable] = deque()  # keys with someone waiting, longest first

    async def take(self, key: Hashable) -> None:
        """Wait for a turn (given back with `give_back(key)`)."""
        if self.busy < self.capacity and not self._ring:
            self._grant(key)
            return
        await self._wait(key, self._enqueue(key))

    async def swap(self, key: Hashable) -> None:
        """Give back `key`'s turn and wait for its next one. Asked before the turn is given
        back, so the free turn goes to whoever holds least among all who want one, this
        key included (given back first, it went to a key already waiting every time)."""
        granted = self._enqueue(key)
        self.give_back(key)
        await self._wait(key, granted)

    def _enqueue(self, key: Hashable) -> asyncio.Future[None]:
        granted = asyncio.get_running_loop().create_future()
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
            self._ring.append(key)
        queue.append(granted)
        return granted

    async def _wait(self, key: Hashable, granted: asyncio.Future[None]) -> None:
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():  # granted, then cancelled
                self.give_back(key)
            raise

    def _grant(self, key: Hashable) -> None:
        self.busy += 1
        self._held[key] = self._held.get(key, 0) + 1

    def give_back(self, key: Hashable) -> None:
        """`key`'s turn is over: free turns go to the waiting keys (a cancelled waiter is
        passed over)."""
        self.busy -= 1
        self._held[key] -= 1
        if not self._held[key]:
            del self._held[key]
        while self._ring and self.busy < self.capacity:
            # `min` keeps the first of equals: the longest waiting of the keys holding least.
            chosen = min(self._ring, key=lambda k: self._held.get(k, 0))
            self._ring.remove(chosen)
            queue = self._queues[chosen]
            waiter = queue.popleft()
            if queue:
                self._ring.append(chosen)  # its next waiter, after every other key's
            else:
                del self._queues[chosen]
            if not waiter.done():
                self._grant(chosen)
                waiter.set_result(None)


class Turn:
    """One sender's place in `Turns`: it holds at most one turn at a time."""

    def __init__(self, turns: Turns, key: Hashable) -> None:
        self.turns = turns
        self.key = key
        self.held = False

    async def next(self) -> None:
        """Give back the turn held (if any) and wait for the next one."""
        if self.held:
            self.held = False
            await self.turns.swap(self.key)
        else:
            await self.turns.take(self.key)
        self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.turns.give_back(self.key)

    async def __aenter__(self) -> Turn:
        return self

    async def __aexit__(self, *_: object) -> None:
        self.release()

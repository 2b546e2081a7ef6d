"""Inspecting the fake and injecting faults: what tests and benchmarks ask of it (a mixin
of `FakeTelegram`)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import random
import time
from collections.abc import Callable
from typing import Any

from .world import JSON, Call, RateLimits, SentMessage, _Fault


class InspectionAndFaults:
    """What was called and sent, waiting for calls or idleness, and faults on demand."""

    # -- inspection ----------------------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        canonical = self.spec.canonical_method(method) or method
        return [c for c in self.calls if c.method == canonical]

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        return list(self._sent.get(chat_id, []))

    def last_message_to(self, chat_id: int) -> SentMessage | None:
        sent = self._sent.get(chat_id)
        return sent[-1] if sent else None

    def commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        return list(self.commands_by_scope.get((self._scope_key(scope), language_code), []))

    @property
    def allowed_updates(self) -> list[str] | None:
        """The sticky list from the last getUpdates/setWebhook that gave one (None: default)."""
        return None if self._allowed_updates is None else list(self._allowed_updates)

    @property
    def pending_updates(self) -> list[JSON]:
        """Queued updates not yet confirmed by a later getUpdates offset."""
        return copy.deepcopy(self._queue)

    async def wait_for(
        self,
        predicate: Callable[[Call], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the whole wait, not one I/O
        *,
        since: int = 0,
    ) -> Call:
        """First call in `calls[since:]` matching `predicate`, waiting up to `timeout` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        index = since
        while True:
            event = self._changed
            for call in self.calls[index:]:
                if predicate(call):
                    return call
            index = max(index, len(self.calls))
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = "\n  ".join(str(c) for c in self.calls[-10:]) or "(no calls)"
                raise TimeoutError(f"no matching call within {timeout}s; last calls:\n  {recent}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def wait_for_message(
        self,
        chat_id: int,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> SentMessage:
        """Wait for the next successful message to `chat_id` after now."""
        count = len(self._sent.get(chat_id, []))
        await self.wait_for(lambda _c: len(self._sent.get(chat_id, [])) > count, timeout)
        return self._sent[chat_id][count]

    def is_idle(self, quiet: float = 0.2) -> bool:
        """Every queued update was confirmed, no request is being handled and none arrived
        for `quiet` seconds (the bot has nothing left to do that Telegram can see)."""
        idle_for = time.monotonic() - self._last_activity
        return not self._queue and self._inflight == 0 and idle_for >= quiet

    async def wait_until_idle(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109
        quiet: float = 0.2,
    ) -> None:
        """Return once every queued update was fetched and confirmed, no request is being
        handled and none arrived for `quiet` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._changed
            idle_for = time.monotonic() - self._last_activity
            if self.is_idle(quiet):
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(self._idle_report(timeout))
            nap = remaining if self._queue or self._inflight else min(remaining, quiet - idle_for)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), max(nap, 0.005))

    def _idle_report(self, timeout: float) -> str:
        lines = [f"not idle after {timeout}s:"]
        if self._queue:
            fetched = sum(1 for u in self._queue if u["update_id"] in self._fetched_ids)
            kinds = [next(k for k in u if k != "update_id") for u in self._queue]
            lines.append(
                f"  {len(self._queue)} update(s) unconfirmed ({fetched} fetched): {kinds[:10]}"
                " - is the bot polling getUpdates?"
            )
        if self._inflight:
            lines.append(f"  {self._inflight} request(s) still being handled")
        lines.append("  last calls:")
        lines += [f"    {c}" for c in self.calls[-10:]] or ["    (none)"]
        return "\n".join(lines)

    # -- faults --------------------------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        *,
        error_code: int = 500,
        description: str = "Internal Server Error",
        retry_after: int | None = None,
        count: int = 1,
        chat_id: int | str | None = None,
    ) -> None:
        """The next `count` calls to `method` (to `chat_id` only, if given) fail this way."""
        if retry_after is not None and error_code == 500:
            error_code = 429
        if error_code == 429 and description == "Internal Server Error":
            description = f"Too Many Requests: retry after {retry_after or 1}"
            retry_after = retry_after or 1
        self._faults.append(
            _Fault(
                self._canonical(method),
                "error",
                count,
                chat_id,
                error_code,
                description,
                retry_after,
            )
        )

    def timeout_next(
        self,
        method: str,
        count: int = 1,
        delay: float | None = None,
        *,
        perform: bool = True,
        chat_id: int | str | None = None,
    ) -> None:
        """The next `count` calls hang `delay` s (default `hang_delay`) before answering.

        With `perform` the call takes effect at once (a message *is* sent, only the answer
        is late, as happens with Telegram); without it the connection is dropped unanswered.
        """
        self._faults.append(
            _Fault(
                self._canonical(method),
                "timeout",
                count,
                chat_id,
                delay=self.hang_delay if delay is None else delay,
                perform=perform,
            )
        )

    def set_fault_rate(
        self,
        p: float,
        seed: int = 0,
        *,
        kinds: tuple[str, ...] = ("500", "502", "hang", "drop"),
        methods: frozenset[str] | None = None,
    ) -> None:
        """Each non-getUpdates call (of `methods`, if given) fails with probability `p`, in
        one of `kinds`: 500, 502, a hang after the effect, or a dropped connection."""
        self._fault_rate = p
        self._fault_rng = random.Random(seed)
        self._fault_kinds = kinds
        self._fault_methods = methods

    def clear_faults(self) -> None:
        self._faults.clear()
        self._fault_rate = 0.0

    def enforce_rate_limits(
        self, enabled: bool = True, limits: RateLimits | None = None, **overrides: Any
    ) -> RateLimits | None:
        """Answer 429 + retry_after past Telegram's flood limits (see RateLimits)."""
        if not enabled:
            self._rate_limits = None
        else:
            base = limits or RateLimits()
            self._rate_limits = RateLimits(**{**base.__dict__, **overrides})
        self._buckets.clear()
        return self._rate_limits

"""The rate limiter on virtual time: Telegram's limits are kept, nothing else is slowed."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import heapq
import itertools
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

import pytest
from telegram.error import BadRequest, NetworkError, RetryAfter

from bot.ratelimit import PeerRateLimiter, Priority, TokenBucket, Turn, Turns, posts_a_message


class VirtualTime:
    """A clock whose `sleep` returns at once in real time: when every task is waiting, time
    jumps to the earliest sleeper."""

    def __init__(self) -> None:
        self.t = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self.t

    async def sleep(self, delay: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + max(delay, 0.0), next(self._order), future))
        await future

    async def run(self, *coroutines: Coroutine[Any, Any, Any]) -> list[Any]:
        tasks = [asyncio.ensure_future(c) for c in coroutines]
        while True:
            # Enough turns for a chain of wake-ups (each first ticket wakes the next) to run.
            for _ in range(200):
                await asyncio.sleep(0)
            if all(t.done() for t in tasks):
                return [t.result() for t in tasks]
            assert self._sleepers, "deadlock: nothing sleeping and tasks not done"
            wake, _, future = heapq.heappop(self._sleepers)
            self.t = max(self.t, wake)
            future.set_result(None)


class FakeApi:
    """Records when each call reached 'Telegram'; can answer 429 a few times per chat."""

    def __init__(self, clock: VirtualTime) -> None:
        self.clock = clock
        self.sent: list[tuple[float, str, Any]] = []
        self.flood: dict[Any, int] = {}
        self.broken: set[Any] = set()  # chats whose every call gets a 5xx

    def call(self, endpoint: str, chat_id: Any) -> Any:
        async def callback(**_: Any) -> bool:
            if self.flood.get(chat_id, 0) > 0:
                self.flood[chat_id] -= 1
                raise RetryAfter(timedelta(seconds=2))
            if chat_id in self.broken:
                raise NetworkError("Internal Server Error (500)")
            self.sent.append((self.clock.t, endpoint, chat_id))
            return True

        return callback


@pytest.fixture
def clock() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
def limiter(clock: VirtualTime) -> PeerRateLimiter:
    return PeerRateLimiter(now=clock.now, sleep=clock.sleep)


def request(
    limiter: PeerRateLimiter,
    api: FakeApi,
    endpoint: str,
    chat_id: Any,
    priority: Priority | None = None,
) -> Coroutine[Any, Any, Any]:
    return limiter.process_request(
        api.call(endpoint, chat_id), (), {}, endpoint, {"chat_id": chat_id}, priority
    )


def telegram_would_refuse(sent: list[tuple[float, str, Any]]) -> list[tuple[float, Any]]:
    """Replay the calls against the fake Bot API's own flood model (30/s overall with a burst
    of 30, 1/s per private chat with a burst of 3, 20/min per group)."""
    overall = TokenBucket(30, 30, 0)
    chats: dict[Any, TokenBucket] = {}
    refused = []
    for moment, endpoint, chat_id in sent:
        if not posts_a_message(endpoint):
            continue
        if chat_id not in chats:
            private = isinstance(chat_id, int) and chat_id > 0
            chats[chat_id] = TokenBucket(1, 3, 0) if private else TokenBucket(20 / 60, 20, 0)
        buckets = [overall, chats[chat_id]]
        if any(b.wait_time(moment) > 1e-9 for b in buckets):
            refused.append((moment, chat_id))
        for bucket in buckets:
            bucket.take(moment)
    return refused


def test_only_message_posting_methods_count():
    assert posts_a_message("sendMessage") and posts_a_message("copyMessage")
    assert posts_a_message("sendPhoto") and posts_a_message("forwardMessage")
    for endpoint in ("getChatMember", "stopPoll", "deleteMessage", "editMessageText"):
        assert not posts_a_message(endpoint)
    assert not posts_a_message("sendChatAction")


async def test_group_reads_and_edits_are_never_held_back(limiter, clock):
    api = FakeApi(clock)
    group = -100_200_300
    calls = [
        request(limiter, api, endpoint, group)
        for endpoint in ("getChatMember", "stopPoll", "deleteMessage", "editMessageText")
        for _ in range(25)
    ]
    await clock.run(*calls)
    assert len(api.sent) == 100
    assert max(t for t, _, _ in api.sent) == 0.0


async def test_a_group_gets_at_most_twenty_messages_a_minute(limiter, clock):
    api = FakeApi(clock)
    group = -100_200_300
    await clock.run(*(request(limiter, api, "sendMessage", group) for _ in range(40)))
    times = [t for t, _, _ in api.sent]
    assert len(times) == 40
    for start in times:
        assert sum(1 for t in times if start <= t < start + 60) <= 20
    assert telegram_would_refuse(api.sent) == []
    assert times[-1] < 150  # and not much slower than that


async def test_a_private_chat_gets_a_short_burst_then_one_a_second_in_order(limiter, clock):
    api = FakeApi(clock)
    order: list[int] = []

    async def numbered(n: int) -> None:
        await request(limiter, api, "sendMessage", 2001)
        order.append(n)

    await clock.run(*(numbered(n) for n in range(8)))
    times = [t for t, _, _ in api.sent]
    assert times[:3] == [0.0, 0.0, 0.0]
    assert all(b - a >= 0.999 for a, b in itertools.pairwise(times[2:]))
    assert order == list(range(8))
    assert telegram_would_refuse(api.sent) == []


async def test_a_broadcast_runs_near_but_under_thirty_a_second(limiter, clock):
    api = FakeApi(clock)
    people = range(10_000, 10_600)
    await clock.run(*(request(limiter, api, "copyMessage", p, Priority.BULK) for p in people))
    times = sorted(t for t, _, _ in api.sent)
    assert len(times) == 600
    rate = len(times) / (times[-1] + 1)  # the last one ends its second
    assert 0.95 * 30 <= rate <= 30
    assert max(sum(1 for t in times if start <= t < start + 1) for start in times) <= 30
    assert telegram_would_refuse(api.sent) == []


async def test_an_interactive_answer_does_not_wait_behind_a_broadcast(limiter, clock):
    api = FakeApi(clock)
    broadcast = [request(limiter, api, "copyMessage", p, Priority.BULK) for p in range(1, 901)]

    async def answer_later() -> float:
        await clock.sleep(10.0)
        asked = clock.t
        await request(limiter, api, "sendMessage", 555_555)
        return clock.t - asked

    *_, waited = await clock.run(*broadcast, answer_later())
    assert waited < 0.05
    assert telegram_would_refuse(api.sent) == []


async def test_retry_after_pauses_only_that_chat_and_retries(limiter, clock):
    api = FakeApi(clock)
    api.flood[2001] = 1
    await clock.run(
        request(limiter, api, "sendMessage", 2001), request(limiter, api, "sendMessage", 2002)
    )
    when = {chat: t for t, _, chat in api.sent}
    assert when[2002] < 0.1  # the overall bucket is drained a little, that is all
    assert when[2001] >= 2.0
    assert limiter.stats.retry_afters == 1


async def test_retries_are_bounded(clock):
    limiter = PeerRateLimiter(now=clock.now, sleep=clock.sleep, max_retries=2)
    api = FakeApi(clock)
    api.flood[2001] = 99
    with pytest.raises(RetryAfter):
        await clock.run(request(limiter, api, "sendMessage", 2001))
    assert api.flood[2001] == 99 - 3
    assert limiter.stats.gave_up == 1


async def test_retry_after_on_an_unthrottled_call_is_honoured_too(limiter, clock):
    api = FakeApi(clock)
    api.flood[-5] = 1
    await clock.run(request(limiter, api, "editMessageText", -5))
    assert [t for t, _, _ in api.sent] == [2.0]


async def test_a_cancelled_wait_leaves_the_queue_usable(clock):
    limiter = PeerRateLimiter(now=clock.now, sleep=clock.sleep)
    api = FakeApi(clock)

    async def bulk_later() -> None:
        await clock.sleep(0.001)  # queued behind the interactive calls below
        await request(limiter, api, "sendMessage", 2001, Priority.BULK)

    waiting = asyncio.ensure_future(bulk_later())

    async def cancel_soon() -> None:
        await clock.sleep(0.01)
        waiting.cancel()

    calls = [request(limiter, api, "sendMessage", c) for c in range(3000, 3040)]
    await clock.run(*calls, cancel_soon())
    assert waiting.cancelled()
    assert sorted(c for _, _, c in api.sent) == list(range(3000, 3040))


async def test_send_private_waits_out_a_429_given_as_seconds_or_timedelta(monkeypatch):
    from datetime import timedelta

    from telegram.error import RetryAfter

    from handlers import delivery

    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(delivery.asyncio, "sleep", fake_sleep)
    answers: list[object] = [RetryAfter(5), RetryAfter(timedelta(seconds=2)), "sent"]

    async def send_message(**kwargs: object) -> object:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    class FakeBot:
        pass

    bot = FakeBot()
    bot.send_message = send_message  # type: ignore[attr-defined]
    result = await delivery.send_private(bot, 42, "hej")  # type: ignore[arg-type]
    assert result.sent and slept == [5.0, 2.0]


async def test_no_second_ever_holds_more_than_thirty_messages_even_the_first(limiter, clock):
    api = FakeApi(clock)
    people = range(20_000, 20_100)
    calls = [request(limiter, api, "copyMessage", p, Priority.BULK) for p in people[:50]]
    calls += [request(limiter, api, "sendMessage", p) for p in people[50:]]
    await clock.run(*calls)
    times = sorted(t for t, _, _ in api.sent)
    assert max(sum(1 for t in times if start <= t < start + 1) for start in times) <= 30


async def test_a_server_error_gives_its_slot_back(limiter, clock):
    """5% of the sends fail with a 5xx: the others still go out at nearly 30 a second."""
    api = FakeApi(clock)
    people = list(range(30_000, 30_600))
    api.broken = set(people[::20])

    async def send(chat_id: int) -> None:
        with contextlib.suppress(NetworkError):  # counted as not sent
            await request(limiter, api, "copyMessage", chat_id, Priority.BULK)

    await clock.run(*(send(p) for p in people))
    times = sorted(t for t, _, _ in api.sent)
    assert len(times) == 570
    assert len(times) / (times[-1] + 1) >= 0.95 * 30
    assert limiter.stats.given_back == 30


# Shared fairly between groups -------------------------------------------------------------

share_of_work: contextvars.ContextVar[int | None] = contextvars.ContextVar("share", default=None)


@pytest.fixture
def shared(clock: VirtualTime) -> PeerRateLimiter:
    return PeerRateLimiter(now=clock.now, sleep=clock.sleep, share=share_of_work.get)


async def for_group(
    group: int,
    limiter: PeerRateLimiter,
    api: FakeApi,
    endpoint: str,
    chat_id: Any,
    priority: Priority | None = None,
    after: float = 0.0,
) -> None:
    """A call made by the work of `group` (as the app sets it: the group of the pass)."""
    share_of_work.set(group)
    if after:
        await api.clock.sleep(after)
    await request(limiter, api, endpoint, chat_id, priority)


async def test_groups_waiting_at_once_are_served_round_robin(shared, clock):
    api = FakeApi(clock)
    calls = [
        for_group(g, shared, api, "sendMessage", 10_000 * g + n)
        for g in (1, 2, 3)
        for n in range(40)  # each group queues its 40 reminders before the next group
    ]
    await clock.run(*calls)
    order = [chat // 10_000 for _, _, chat in api.sent]
    # The first second's 30 go to group 1, which asked first and found no one waiting;
    # from then on the groups waiting take turns, one message each.
    assert order[:30] == [1] * 30
    assert order[30:60] == [2, 3, 1] * 10
    assert order[60:] == [2, 3] * 30
    assert telegram_would_refuse(api.sent) == []


async def test_200_polls_at_once_beside_one_groups_thousands_of_reminders(shared, clock):
    """One group has 3,000 reminders queued (100 s at 30/s); the 200 groups' polls,
    arriving a second later, all go out within the next 200 slots, and nothing Telegram
    would refuse."""
    api = FakeApi(clock)
    backlog = [for_group(0, shared, api, "sendMessage", 100_000 + n) for n in range(3000)]
    polls = [
        for_group(g, shared, api, "sendPoll", -1_000_000 - g, after=1.0) for g in range(1, 201)
    ]
    await clock.run(*backlog, *polls)
    poll_times = [t for t, endpoint, _ in api.sent if endpoint == "sendPoll"]
    assert len(poll_times) == 200
    assert max(poll_times) < 1.0 + 200 / 30 + 1  # about seven seconds, not a hundred
    assert max(t for t, _, _ in api.sent) >= 100  # the backlog itself still at 30/s
    assert max(sum(1 for t, _, _ in api.sent if s <= t < s + 1) for s, _, _ in api.sent) <= 30
    assert telegram_would_refuse(api.sent) == []


async def test_one_groups_big_broadcast_does_not_starve_the_others(shared, clock):
    api = FakeApi(clock)
    big = [
        for_group(0, shared, api, "copyMessage", 1_000_000 + n, Priority.BULK) for n in range(2000)
    ]
    small = [
        for_group(g, shared, api, "copyMessage", 10_000 * g + n, Priority.BULK, after=5.0)
        for g in range(1, 51)
        for n in range(25)
    ]
    await clock.run(*big, *small)
    first = {}
    last = {}
    for moment, _, chat in api.sent:
        group = 0 if chat >= 1_000_000 else chat // 10_000
        first.setdefault(group, moment)
        last[group] = moment
    # Every small group starts within two seconds of asking and is done well before the
    # big one: the big broadcast takes one turn in each round, like everyone else.
    assert all(first[g] < 5.0 + 2 for g in range(1, 51))
    assert max(last[g] for g in range(1, 51)) < 5.0 + 2 * 50 * 25 / 29
    assert last[0] > max(last[g] for g in range(1, 51))
    assert telegram_would_refuse(api.sent) == []


async def test_lane_turns_go_round_robin_by_group_and_never_exceed_the_capacity():
    turns = Turns(3)
    order: list[str] = []
    holding = 0
    most = 0

    async def sender(group: str) -> None:
        nonlocal holding, most
        turn = Turn(turns, group)
        try:
            for _ in range(4):  # a lane's sender: one item after another
                await turn.next()
                holding += 1
                most = max(most, holding)
                order.append(group)
                await asyncio.sleep(0)
                holding -= 1
        finally:
            turn.release()

    # Group a's broadcast has six senders; b and c, asking later, one each.
    await asyncio.gather(*(sender("a") for _ in range(6)), sender("b"), sender("c"))
    assert most <= 3 and turns.busy == 0
    assert order[:3] == ["a", "a", "a"]  # nobody was waiting yet
    assert order[3:5] == ["b", "c"]  # then the groups that hold none go first
    # b and c are never passed over for a's many senders: from then on the three groups
    # hold a turn each, so b's and c's four items go out among the first fifteen.
    assert order[3:15].count("b") == order[3:15].count("c") == 4
    assert sorted(order) == ["a"] * 24 + ["b"] * 4 + ["c"] * 4


async def test_a_cancelled_wait_for_a_turn_gives_nothing_away():
    turns = Turns(1)
    await turns.take("a")
    waiting = asyncio.ensure_future(turns.take("b"))
    await asyncio.sleep(0)
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    turns.give_back("a")
    assert turns.busy == 0
    await asyncio.wait_for(turns.take("c"), 1)
    assert turns.busy == 1


async def test_a_button_answered_too_late_does_not_fail_the_taps_work(limiter):
    async def too_old(**_: Any) -> bool:
        raise BadRequest("Query is too old and response timeout expired or query id is invalid")

    async def refused(**_: Any) -> bool:
        raise BadRequest("Message text is empty")

    answer = "answerCallbackQuery"
    assert await limiter.process_request(too_old, (), {}, answer, {}, None) is True
    with pytest.raises(BadRequest):
        await limiter.process_request(refused, (), {}, answer, {}, None)
    with pytest.raises(BadRequest):  # a message is not "answered too late"
        await limiter.process_request(too_old, (), {}, "sendMessage", {"chat_id": 1}, None)

"""The outbox's rules on a real database: enqueue once, claim, hold and wake, and a claim
left by a stopped process taken over by the next."""

from __future__ import annotations

from datetime import timedelta

from bot.domain import outbox, people
from bot.sandbox import Cast, Sandbox


async def test_enqueue_is_kept_once_and_hold_waits_for_wake(group: tuple[Sandbox, Cast]):
    box, cast = group
    await box.say(cast.volunteers[0], "/start")
    services, now = box.services, box.clock.now()
    async with services.db.transaction() as session:
        anna = (await people.volunteers(session, services.group_id))[0]
        for _ in range(2):
            await outbox.enqueue(session, services.group_id, "test", 7, anna.id, now)
    async with services.db.transaction() as session:
        claim = await outbox.claim_next(session, services.group_id, now, "me")
        assert claim is not None
        await outbox.hold(session, claim.item_id)
    async with services.db.transaction() as session:
        assert await outbox.claim_next(session, services.group_id, now, "me") is None
        later = now + timedelta(days=3)
        assert await outbox.wake(session, anna.id, later) == 1
    async with services.db.transaction() as session:
        assert await outbox.claim_next(session, services.group_id, now, "me") is None
        again = await outbox.claim_next(session, services.group_id, later, "me")
        assert again is not None and again.item_id == claim.item_id
        # Claimed by me: not claimed again by me, only taken over by a later process.
        assert await outbox.claim_next(session, services.group_id, later, "me") is None
        assert await outbox.claim_next(session, services.group_id, later, "next") is not None

"""A database from before the outbox, with a broadcast half sent, upgraded: each copy still
owed goes out exactly once, the one interrupted mid-send is reported, never resent."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from bot.sandbox import GROUP_CHAT_ID, Cast, Sandbox
from storage.base import UTCDateTime
from storage.db import Database
from storage.migrate import alembic_config
from tests.test_broadcast_e2e import button, copies_to, eventually, finished, start_everyone

# The broadcast tables as migration 0005 made them and the code before the outbox wrote them.
OLD = sa.MetaData()
BROADCASTS = sa.Table(
    "broadcasts",
    OLD,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("group_id", sa.Integer),
    sa.Column("created_by", sa.BigInteger),
    sa.Column("status", sa.String(16)),
    sa.Column("audience", sa.String(16)),
    sa.Column("important", sa.Boolean),
    sa.Column("source_chat_id", sa.BigInteger),
    sa.Column("source_message_id", sa.Integer),
    sa.Column("report_message_id", sa.Integer),
    sa.Column("paused_skipped", sa.Integer),
    sa.Column("created_at", UTCDateTime),
    sa.Column("confirmed_at", UTCDateTime),
)
DELIVERIES = sa.Table(
    "broadcast_deliveries",
    OLD,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("group_id", sa.Integer),
    sa.Column("broadcast_id", sa.Integer),
    sa.Column("person_id", sa.Integer, nullable=True),
    sa.Column("status", sa.String(16)),
    sa.Column("attempts", sa.Integer),
    sa.Column("message_id", sa.Integer, nullable=True),
    sa.Column("updated_at", UTCDateTime),
)
PEOPLE = sa.table("people", sa.column("id"), sa.column("telegram_user_id"))


async def back_to_before_the_outbox(url: str) -> None:
    """The broadcast branch at its last revision before the outbox (the other branches stay
    at their heads, as a database of that version has them)."""
    from alembic import command
    from alembic.script import ScriptDirectory

    config = alembic_config(url)
    script = ScriptDirectory.from_config(config)
    head = next(
        h
        for h in script.get_heads()
        if any(r.revision == "0005" for r in script.iterate_revisions(h, "base"))
    )
    await asyncio.to_thread(command.downgrade, config, f"{head}@0005")


async def test_pending_copies_of_an_old_database_are_sent_exactly_once_after_upgrading(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, anna, bo, camilla, dennis = cast.coordinator, *cast.volunteers
    await start_everyone(box, cast)
    await box.say(mette, "/help")
    preview, report = box.fake.messages_to(mette.id)[-2:]
    group_id = box.services.group_id
    await box.stop_bot()

    url = box.settings.database_url
    await back_to_before_the_outbox(url)
    database = Database(url)
    try:
        async with database.transaction() as session:
            ids = dict(
                (await session.execute(sa.select(PEOPLE.c.telegram_user_id, PEOPLE.c.id))).all()
            )
            now = box.clock.now()
            broadcast_id = (
                await session.execute(
                    BROADCASTS.insert()
                    .values(
                        group_id=group_id,
                        created_by=mette.id,
                        status="sending",
                        audience="both",
                        important=False,
                        source_chat_id=mette.id,
                        source_message_id=preview.message_id,
                        report_message_id=report.message_id,
                        paused_skipped=0,
                        created_at=now,
                        confirmed_at=now,
                    )
                    .returning(BROADCASTS.c.id)
                )
            ).scalar_one()
            # As the old sender left them when it was killed: the group's copy and two
            # volunteers' still pending, one claimed mid-send, one sent.
            rows = [(None, "pending"), (anna, "pending"), (bo, "sending"), (camilla, "sent")]
            rows.append((dennis, "pending"))
            await session.execute(
                DELIVERIES.insert(),
                [
                    {
                        "group_id": group_id,
                        "broadcast_id": broadcast_id,
                        "person_id": None if who is None else ids[who.id],
                        "status": status,
                        "attempts": 0 if status == "pending" else 1,
                        "updated_at": now,
                    }
                    for who, status in rows
                ],
            )
    finally:
        await database.dispose()

    await box.start_bot()  # upgrades, and its first passes continue the broadcast
    await finished(box, report)
    for bot_start in range(2):  # and nothing more after a later start
        assert [len(copies_to(box, chat)) for chat in (GROUP_CHAT_ID, anna.id, dennis.id)] == [
            1,
            1,
            1,
        ]
        assert copies_to(box, bo.id) == [] and copies_to(box, camilla.id) == []
        assert copies_to(box, anna.id)[0].text == preview.text
        assert "Leveret privat: 3 af 4" in report.text
        assert "Ikke kommet frem endnu, kan sendes igen: 1" in report.text
        if not bot_start:
            await box.stop_bot()
            await box.start_bot()
            await asyncio.sleep(0.5)  # its first pass looked at the outbox; nothing went
            await box.fake.wait_until_idle()

    await box.tap(mette, report, button(report, "broadcast:retry:"))  # Bo's, when she asks
    await eventually(lambda: copies_to(box, bo.id))
    await finished(box, report)
    assert [len(copies_to(box, v.id)) for v in (anna, bo, dennis)] == [1, 1, 1]
    assert "Leveret privat: 4 af 4" in report.text

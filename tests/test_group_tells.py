"""Private things typed in the group tell the group nothing: `/pause`, `/mydata`,
`/forgetme` (with or without a name) and every other private-only command are removed when
the bot may, and answered with one and the same neutral invitation."""

from __future__ import annotations

from bot.sandbox import GROUP_CHAT_ID, Cast, Sandbox

COMMANDS = [
    ("volunteer", "/pause"),
    ("volunteer", "/mydata"),
    ("volunteer", "/forgetme"),
    ("coordinator", "/mydata @anna"),
    ("coordinator", "/forgetme @bo_frivillig"),
    ("volunteer", "/referat"),
    ("volunteer", "/resume"),
]


async def test_private_commands_in_the_group_all_look_the_same(group: tuple[Sandbox, Cast]):
    box, cast = group
    for person in (cast.coordinator, *cast.volunteers):
        await box.say(person, "/start")
    answers = []
    for who, command in COMMANDS:
        sender = cast.coordinator if who == "coordinator" else cast.volunteers[0]
        written = box.fake.send_text(sender, GROUP_CHAT_ID, command)
        await box.settle()
        assert box.fake.chats[GROUP_CHAT_ID].messages[written["message_id"]].deleted, command
        answer = box.fake.messages_to(GROUP_CHAT_ID)[-1]
        answers.append((answer.text, answer.buttons))
    assert len(set(map(repr, answers))) == 1, answers
    text, buttons = answers[0]
    assert text == "Lad os tale privat. Tryk på knappen for at åbne vores private chat."
    assert buttons == [{"text": "Åbn en privat chat", "url": "https://t.me/peerbot_demo_bot"}]
    # Nothing was done on the group's behalf: no export, nobody forgotten.
    assert box.fake.calls_to("sendDocument") == []
    assert len(box.fake.messages_to(GROUP_CHAT_ID)) == len(COMMANDS)

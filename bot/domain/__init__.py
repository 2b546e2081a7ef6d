"""Domain logic as plain async functions: take a session, a group and `now`; no Telegram."""

"""Persistence: SQLAlchemy models and queries. Knows nothing of Telegram and never commits."""

"""Channels (console, Telegram, web chat) and the conversation service they share."""

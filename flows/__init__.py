"""Flows: the conversation as data, and the pure engine that walks it.

Nothing here does I/O or imports a channel, a database or a web framework.
"""

"""The pure core: protocol codecs, grammar and rules.

Standard library only, and no I/O: no asyncio, sockets, sqlite, logging, clock or
randomness. Time, nonces and transaction ids are passed in by the caller, so every
result is a pure function of its inputs. ``tests/test_architecture.py`` enforces it.
"""

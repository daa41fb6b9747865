"""Transport: the only layer that imports aiohttp or httpx.

Per-event-loop sessions and clients, bounded reads of bodies and streams, and one
table-driven map from each client library's exceptions to jackfield's errors. Everything
here is internal; plugin authors reach what they need through :mod:`jackfield.provider`.
"""

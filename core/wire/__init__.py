"""Wire formats: pure building and parsing of what goes over the network, no I/O.

Server-sent events, OpenAI Chat Completions, Anthropic Messages, JSON and partial JSON,
the assembly of stream events into one ``Response``, and the classification of error
bodies and headers into jackfield's error taxonomy. Everything here is internal; plugin
authors reach what they need through :mod:`jackfield.provider`.
"""

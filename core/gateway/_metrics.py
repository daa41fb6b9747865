"""The gateway's metrics, rendered in the Prometheus text format (no dependency).

Counters and histograms are plain dicts keyed by label values: a label set is bounded
by the config (endpoints, models, error types), never by client input, so memory stays
bounded. Nothing here holds a token value or a key.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

__all__ = ["Metrics"]

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _labels(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    if not names:
        return ""
    inner = ",".join(
        f'{n}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for n, v in zip(names, values, strict=True)
    )
    return "{" + inner + "}"


class _Counter:
    def __init__(self, name: str, help: str, labels: tuple[str, ...] = ()) -> None:
        self.name, self.help, self.labels = name, help, labels
        self.values: dict[tuple[str, ...], float] = {}

    def inc(self, *values: str, by: float = 1.0) -> None:
        self.values[values] = self.values.get(values, 0.0) + by

    def render(self, out: list[str]) -> None:
        out.append(f"# HELP {self.name} {self.help}")
        out.append(f"# TYPE {self.name} counter")
        for values, v in sorted(self.values.items()):
            out.append(f"{self.name}{_labels(self.labels, values)} {v:g}")


class _Histogram:
    def __init__(self, name: str, help: str, labels: tuple[str, ...] = ()) -> None:
        self.name, self.help, self.labels = name, help, labels
        self.values: dict[tuple[str, ...], list[float]] = {}  # bucket counts, then sum, count

    def observe(self, seconds: float, *values: str) -> None:
        row = self.values.get(values)
        if row is None:
            row = self.values[values] = [0.0] * (len(BUCKETS) + 2)
        i = bisect.bisect_left(BUCKETS, seconds)
        if i < len(BUCKETS):
            row[i] += 1
        row[-2] += seconds
        row[-1] += 1

    def render(self, out: list[str]) -> None:
        out.append(f"# HELP {self.name} {self.help}")
        out.append(f"# TYPE {self.name} histogram")
        names = (*self.labels, "le")
        for values, row in sorted(self.values.items()):
            cumulative = 0.0
            for bound, n in zip(BUCKETS, row, strict=False):
                cumulative += n
                out.append(
                    f"{self.name}_bucket{_labels(names, (*values, f'{bound:g}'))} {cumulative:g}"
                )
            out.append(f"{self.name}_bucket{_labels(names, (*values, '+Inf'))} {row[-1]:g}")
            out.append(f"{self.name}_sum{_labels(self.labels, values)} {row[-2]:.6f}")
            out.append(f"{self.name}_count{_labels(self.labels, values)} {row[-1]:g}")


class Metrics:
    """Everything ``GET /metrics`` reports."""

    def __init__(self) -> None:
        self.requests = _Counter(
            "jackfield_gateway_requests_total",
            "Calls answered, by endpoint, model and HTTP status.",
            ("endpoint", "model", "status"),
        )
        self.errors = _Counter(
            "jackfield_gateway_errors_total",
            "Failed calls, by endpoint and error type.",
            ("endpoint", "error_type"),
        )
        self.tokens = _Counter(
            "jackfield_gateway_tokens_total",
            "Tokens used, by model and direction (input, output).",
            ("model", "direction"),
        )
        self.latency = _Histogram(
            "jackfield_gateway_request_duration_seconds",
            "Time from the request to the end of its answer, by endpoint.",
            ("endpoint",),
        )
        self.first_event = _Histogram(
            "jackfield_gateway_time_to_first_event_seconds",
            "Time from the request to the first streamed event, by endpoint.",
            ("endpoint",),
        )
        self.cache_hits = _Counter(
            "jackfield_gateway_cache_hits_total", "Answers served from the response cache."
        )
        self.failovers = _Counter(
            "jackfield_gateway_router_failovers_total",
            "Router failovers, by target failed over from.",
            ("target",),
        )
        self.rejections = _Counter(
            "jackfield_gateway_limit_rejections_total",
            "Calls refused by a per-token limit.",
            ("reason",),
        )
        self.disconnects = _Counter(
            "jackfield_gateway_client_disconnects_total",
            "Calls whose client went away before the answer ended.",
        )
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}

    def gauge(self, name: str, help: str, read: Callable[[], float]) -> None:
        """Report ``read()`` as the gauge ``name`` at each scrape."""
        self.gauges[name] = (help, read)

    def render(self) -> str:
        """The Prometheus text exposition of every metric."""
        out: list[str] = []
        for metric in (
            self.requests,
            self.errors,
            self.tokens,
            self.latency,
            self.first_event,
            self.cache_hits,
            self.failovers,
            self.rejections,
            self.disconnects,
        ):
            metric.render(out)
        for name, (help, read) in sorted(self.gauges.items()):
            out.append(f"# HELP {name} {help}")
            out.append(f"# TYPE {name} gauge")
            out.append(f"{name} {read():g}")
        return "\n".join(out) + "\n"

"""jackfield's performance harness: ``python -m benchmarks`` (see docs/benchmarks.md)."""

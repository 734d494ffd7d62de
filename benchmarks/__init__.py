"""sharkfin-mcp benchmarks: ``uv run python -m benchmarks [--quick]`` (see run.py)."""

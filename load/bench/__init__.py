"""Benchmarks: Locust against a bare uvicorn ceiling and a path through the shop (``nox -s bench -- catalog``)."""

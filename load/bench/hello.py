"""The ceiling: the barest FastAPI endpoint on uvicorn[standard], what any service on this machine could at best do."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}

"""The FastAPI side of the benchmark: the same endpoints as the Rust web-api, logging with
Python's `logging` to a file (one app line per log call, one access line per request), run
with the original command: gunicorn app:app -w 1 -k uvicorn.workers.UvicornWorker."""

import asyncio
import logging
import os
from typing import Literal

from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel, Field

LOG_FILE = os.environ.get("LOG_FILE", "/api/log/app.log")
handler = logging.FileHandler(LOG_FILE)
handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
for name in ("app", "access"):
    lg = logging.getLogger(name)
    lg.setLevel(logging.INFO)
    lg.addHandler(handler)
    lg.propagate = False
log = logging.getLogger("app")
access = logging.getLogger("access")


class AccessLog:
    """Pure ASGI middleware (the cheapest kind): one uvicorn-style line per request."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status = 500

        async def send_wrapper(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            client = scope.get("client") or ("-", 0)
            path = scope["path"] + ("?" + scope["query_string"].decode() if scope["query_string"] else "")
            access.info('%s:%d - "%s %s HTTP/%s" %d', client[0], client[1], scope["method"], path,
                        scope["http_version"], status)


app = FastAPI(title="web-api (FastAPI)")
app.add_middleware(AccessLog)

items: dict[int, dict] = {}


class ItemIn(BaseModel):
    name: str = Field(min_length=1)
    price: float = Field(ge=0)


class LogRequest(BaseModel):
    severity: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    message: str = Field(min_length=1)


@app.get("/")
async def hello():
    return {"message": "Hello World"}


@app.get("/health")
async def health():
    return {"status": "ok"}


@app.get("/items")
async def list_items():
    return list(items.values())


@app.post("/items", status_code=201)
async def create_item(item: ItemIn):
    new = {"id": len(items) + 1, "name": item.name, "price": item.price}
    items[new["id"]] = new
    log.info("created item %r", item.name)
    return new


@app.get("/items/{item_id}")
async def get_item(item_id: int):
    if item_id not in items:
        raise HTTPException(status_code=404, detail="Item not found")
    return items[item_id]


@app.post("/log")
async def write_log(req: LogRequest):
    log.log(getattr(logging, req.severity), req.message)
    return {"logged": True, "severity": req.severity, "message": req.message}


@app.get("/error")
async def error():
    try:
        raise ConnectionRefusedError("connection refused (simulated failure)")
    except ConnectionRefusedError as e:
        log.exception("unhandled error in GET /error: could not build the demo report")
        raise HTTPException(status_code=500, detail="Internal Server Error") from e


@app.get("/slow")
async def slow(ms: int = Query(100, ge=0, le=30000)):
    log.info("slow request: sleeping %d ms", ms)
    await asyncio.sleep(ms / 1000)
    return {"slept_ms": ms}

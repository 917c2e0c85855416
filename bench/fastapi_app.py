"""The peer of bench_serve: what a user writes instead of `serve`, a FastAPI app with the same CSV round trip
(parse every row to floats, write them back), served by `uvicorn bench.fastapi_app:app --workers N`."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

app = FastAPI()


@app.get("/ping")
async def ping() -> Response:
    return Response(status_code=200)


@app.post("/invocations")
async def invocations(request: Request) -> Response:
    rows = [[float(value) for value in line.split(",")] for line in (await request.body()).decode().splitlines()]
    return Response("".join(",".join(map(str, row)) + "\n" for row in rows), media_type="text/csv")

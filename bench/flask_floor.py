"""The framework's floor for bench/bench_serve.py: Flask (the emulator's base) routing the
workload's two requests to views that return bench/bare_app.py's fixed body. What Flask
itself costs per request on the same server, before any emulation."""

from __future__ import annotations

from flask import Flask, Response

from bench.bare_app import BODY

app = Flask("bench-floor")


@app.post("/v2/generate")
def create() -> Response:
    return Response(BODY, status=201, mimetype="application/json")


@app.get("/v2/generate/<generation_id>")
def poll(generation_id: str) -> Response:
    return Response(BODY, mimetype="application/json")


@app.get("/")
def root() -> Response:
    return Response(BODY, mimetype="application/json")

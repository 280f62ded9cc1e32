"""Real servers on loopback ports for tests of code that calls other services over HTTP."""

from __future__ import annotations

import asyncio
import socket

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def serve_in_background(app, port: int) -> tuple[uvicorn.Server, asyncio.Task]:
    """Serve `app` on 127.0.0.1:`port` in this event loop; stop with `server.should_exit = True; await task`."""
    # "auto": an app with a lifespan (a service that opens its database) gets it run; others need none.
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="auto"))
    task = asyncio.get_running_loop().create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    return server, task

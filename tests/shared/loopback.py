"""Real servers on loopback ports for tests of code that calls other services over HTTP."""

from __future__ import annotations

import asyncio
import socket

import uvicorn

# Ports handed out, kept bound here. A port only looked up, closed and bound again later can be taken in between:
# every outgoing connection on the machine (a database client's, another process's) gets a local port from the
# same range, and a whole CI run once lost a fixture's server that way (EADDRINUSE). Bound with SO_REUSEADDR and
# never listening, a reserved port is skipped for outgoing connections, refuses connections as a closed port
# does, and can still be bound by a server that sets SO_REUSEADDR too (uvicorn, asyncio's, werkzeug's all do), in
# this process or in a child, which binds the port by number beside the reservation (the e2e suite's processes).
_RESERVED: dict[int, socket.socket] = {}


def free_port() -> int:
    """A loopback port no one else can take: `serve_in_background` serves on its reserved socket; another process
    binds it by number, as often as it is started again, while the reservation stays for the whole session."""
    reserved = socket.socket()
    reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    reserved.bind(("127.0.0.1", 0))
    port: int = reserved.getsockname()[1]
    _RESERVED[port] = reserved
    return port


async def serve_in_background(app, port: int) -> tuple[uvicorn.Server, asyncio.Task]:
    """Serve `app` on 127.0.0.1:`port` in this event loop; stop with `server.should_exit = True; await task`.
    A port from `free_port` is served on the socket reserved for it; any other (a server started again on the
    port it had) is bound by number."""
    # "auto": an app with a lifespan (a service that opens its database) gets it run; others need none.
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="auto"))
    reserved = _RESERVED.pop(port, None)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[reserved] if reserved else None))
    while not server.started:
        if task.done():  # it could not start: say why, instead of waiting for ever
            task.result()
            raise RuntimeError(f"the server on port {port} stopped before it started")
        await asyncio.sleep(0.01)
    return server, task

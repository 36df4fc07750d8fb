"""``/ws/agent``: both ways to authenticate, v1 output, and the extensions (PROTOCOL.md).

One :class:`AgentConnection` per socket; a new authenticated socket for an agent replaces
the old one. Pushes arrive on the bus channel ``agent:{id}`` (``protocol.pushes``) and are
forwarded only to a connection that has sent ``hello``. Everything the hub sends is a ``Ws*``
model of ``protocol.wire``, as JSON by ``message_dict``. A bad message never ends anything but
that message.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import APIRouter, WebSocket
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect, WebSocketState

from orchestratia.protocol import (
    WS_AUTH_CLOSE_CODE,
    WS_MAX_MESSAGE_BYTES,
    WS_PATH,
    ResumeTask,
    TaskStatus,
    WsAuthError,
    WsAuthOk,
    WsError,
    WsHello,
    WsOutput,
    WsPong,
    WsResume,
    WsRevoked,
    WsTaskAssigned,
    parse_agent_message,
)
from orchestratia.protocol.frames import FEATURE_OUTPUT_FRAMES, FrameError, is_output_frame, parse_output_frame
from orchestratia.protocol.pushes import agent_channel, message_dict
from orchestratia.protocol.workspace_actions import FEATURE_WORKSPACE_ACTIONS, WsWorkspaceAction
from orchestratia.hub.api.deps import agent_for_key
from orchestratia.hub.store.models import Agent, Task
from orchestratia.hub.api.agent.ws_output import ConnectionOutput
from orchestratia.hub.task_output import OutputItem

if TYPE_CHECKING:
    from orchestratia.hub.events.bus import Subscription
    from orchestratia.hub.runtime import Runtime

log = logging.getLogger(__name__)
REPLACED_CLOSE_CODE = 4000
MAX_INVALID_JSON = 5


def router() -> APIRouter:
    api = APIRouter()
    api.add_api_websocket_route(WS_PATH, ws_agent)
    return api


async def ws_agent(websocket: WebSocket) -> None:
    hub: Runtime = websocket.app.state.hub
    await websocket.accept()
    agent = await authenticate(websocket, hub)
    if agent is None:
        return
    conn = AgentConnection(hub, websocket, agent)
    previous = hub.connections.get(agent.id)
    hub.connections[agent.id] = conn
    if previous is not None:
        await previous.close(REPLACED_CLOSE_CODE, "replaced by a newer connection")
    try:
        await conn.run()
    finally:
        if hub.connections.get(agent.id) is conn:
            del hub.connections[agent.id]


async def _send_json(websocket: WebSocket, message: BaseModel) -> None:
    await websocket.send_text(orjson.dumps(message_dict(message)).decode())


async def authenticate(websocket: WebSocket, hub: Runtime) -> Agent | None:
    """Header ``X-API-Key``, or a first ``{"type": "auth"}`` message within the time limit."""
    key = websocket.headers.get("x-api-key")
    if key is None:
        key = await _first_message_key(websocket, hub.settings.ws_auth_timeout_s)
        if key is None:
            return None
    agent, why = await agent_for_key(hub, key)
    if agent is None:
        with contextlib.suppress(Exception):
            await _send_json(websocket, WsAuthError(detail=why))
            await websocket.close(WS_AUTH_CLOSE_CODE, why[:120])
        return None
    await hub.liveness.touch(agent)
    await _send_json(websocket, WsAuthOk(agent_id=agent.id))
    return agent


async def _first_message_key(websocket: WebSocket, timeout: float) -> str | None:
    try:
        raw = await asyncio.wait_for(websocket.receive(), timeout)
    except asyncio.TimeoutError:
        with contextlib.suppress(Exception):
            await _send_json(websocket, WsAuthError(detail=f"not authenticated within {timeout:g} s"))
            await websocket.close(WS_AUTH_CLOSE_CODE, "authentication timeout")
        return None
    if raw.get("type") == "websocket.disconnect":
        return None
    try:
        message = orjson.loads(raw.get("text") or raw.get("bytes") or b"")
        key = message.get("api_key") if message.get("type") == "auth" else None
    except (orjson.JSONDecodeError, AttributeError):
        key = None
    if not isinstance(key, str) or not key:
        with contextlib.suppress(Exception):
            detail = 'authenticate first: send {"type": "auth", "api_key": "..."} or the X-API-Key header'
            await _send_json(websocket, WsAuthError(detail=detail))
            await websocket.close(WS_AUTH_CLOSE_CODE, "authentication required")
        return None
    return key


def _utf8_size(data: str | bytes, limit: int) -> int:
    """The message's size in bytes, exact where it matters (near ``limit``): a short text is
    not encoded just to be measured."""
    if isinstance(data, bytes):
        return len(data)
    if 4 * len(data) <= limit:
        return len(data)  # a lower bound, certainly under the limit
    return len(data.encode("utf-8", "surrogatepass"))


class AgentConnection:
    def __init__(self, hub: Runtime, websocket: WebSocket, agent: Agent) -> None:
        self.hub = hub
        self.ws = websocket
        self.agent = agent
        self.hello: WsHello | None = None
        self.pushed: set[str] = set()
        self.invalid_json = 0
        self._send_lock = asyncio.Lock()
        self._closed = asyncio.Event()
        self.frames = False  # hello listed output_frames: binary frames are output (protocol/frames.py)
        self.output = ConnectionOutput(hub.output, agent.id, agent.name, self)

    async def send(self, message: BaseModel) -> None:
        """Send, or (socket gone) mark the connection closed; never raises for a dead socket."""
        async with self._send_lock:
            connected = WebSocketState.CONNECTED
            if self.ws.client_state != connected or self.ws.application_state != connected:
                self._closed.set()
                return
            try:
                await _send_json(self.ws, message)
            except (RuntimeError, WebSocketDisconnect, OSError):
                self._closed.set()

    async def close(self, code: int, reason: str) -> None:
        self._closed.set()
        with contextlib.suppress(Exception):
            await self.ws.close(code, reason)

    async def run(self) -> None:
        async with self.hub.bus.subscribe(agent_channel(self.agent.id)) as sub:
            answering = asyncio.create_task(self.output.answer_loop())
            jobs = [
                asyncio.create_task(self._receive_loop()),
                asyncio.create_task(self._push_loop(sub)),
                asyncio.create_task(self._closed.wait()),
            ]
            try:
                await asyncio.wait(jobs, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for job in jobs:
                    job.cancel()
                for job in jobs:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await job
                await self.output.finish(answering)  # what was received is stored (v1 daemons never resend)

    # ------------------------------------------------------------------ agent → hub

    async def _receive_loop(self) -> None:
        while True:
            try:
                raw = await self.ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if raw.get("type") == "websocket.disconnect":
                return
            data = raw.get("text")
            if data is None:
                data = raw.get("bytes") or b""
            try:
                keep_going = await self._handle(data)
            except Exception:  # a bad message never takes the connection or the hub down
                log.exception("agent %s: message failed", self.agent.name)
                await self.send(WsError(detail="internal error handling this message"))
                keep_going = True
            if not keep_going:
                return

    async def _handle(self, data: str | bytes) -> bool:
        size = _utf8_size(data, WS_MAX_MESSAGE_BYTES)
        await self.hub.liveness.touch(self.agent)
        if size > WS_MAX_MESSAGE_BYTES:
            detail = f"message refused: {size} bytes is over the {WS_MAX_MESSAGE_BYTES}-byte limit"
            await self.send(WsError(detail=detail))
            return True
        if self.frames and isinstance(data, bytes) and is_output_frame(data):
            await self._output_frame(data)
            return True
        try:  # one parse: pydantic's JSON parser tells malformed JSON from a bad message
            message = parse_agent_message(data)
        except ValidationError as exc:
            errors = exc.errors()
            if errors and errors[0].get("type") == "json_invalid":
                return await self._invalid_json()
            self.invalid_json = 0
            first = errors[0] if errors else {}
            where = ".".join(str(p) for p in first.get("loc", ()))
            await self.send(WsError(detail=f"invalid message ({where}: {first.get('msg', 'invalid')}): ignored"))
            return True
        self.invalid_json = 0
        await self._dispatch(message)
        return True

    async def _invalid_json(self) -> bool:
        self.invalid_json += 1
        if self.invalid_json >= MAX_INVALID_JSON:
            await self.send(WsError(detail="too many invalid JSON messages: closing"))
            await self.close(1008, "repeated invalid JSON")
            return False
        await self.send(WsError(detail="invalid JSON: message ignored"))
        return True

    async def _dispatch(self, message: Any) -> None:
        kind = message.type
        if kind == "ping":
            await self.send(WsPong())
        elif kind == "auth":
            await self.send(WsAuthOk(agent_id=self.agent.id))
        elif kind == "hello":
            await self._hello(message)
        elif kind == "output":
            await self._output(message)

    async def _hello(self, hello: WsHello) -> None:
        self.hello = hello
        listed = [t.task_id for t in hello.tasks]
        async with self.hub.store.read() as session:
            query = select(Task.id, Task.output_size - Task.output_base).where(Task.agent_id == self.agent.id)
            running = Task.status == TaskStatus.RUNNING.value
            query = query.where(running | Task.id.in_(listed)) if listed else query.where(running)
            rows = (await session.execute(query)).all()
        self.frames = FEATURE_OUTPUT_FRAMES in hello.features
        features = [FEATURE_OUTPUT_FRAMES] if self.frames else None
        resume = [ResumeTask(task_id=r[0], next_offset=r[1] or 0) for r in rows]
        await self.send(WsResume(tasks=resume, features=features))
        self.hub.scheduler.kick(self.agent.id)

    async def _output(self, message: WsOutput) -> None:
        try:
            data = message.raw_bytes()
        except (binascii.Error, ValueError):
            await self.send(WsError(detail=f"output for {message.task_id}: content is not valid base64"))
            return
        if message.offset is not None and message.length is not None and message.length != len(data):
            detail = f"output for {message.task_id}: length {message.length} != {len(data)} content bytes"
            await self.send(WsError(detail=detail))
            return
        await self.output.put(OutputItem(message.task_id, data, message.stream, message.offset))

    async def _output_frame(self, data: bytes) -> None:
        """A binary output frame: the raw bytes go to the store as they are (no JSON, no
        UTF-8 round trip; see protocol/frames.py for the measured difference)."""
        try:
            frame = parse_output_frame(data)
        except FrameError as exc:
            await self.send(WsError(detail=f"invalid output frame ({exc}): ignored"))
            return
        await self.output.put(OutputItem(frame.task_id, frame.data, frame.stream, frame.offset))

    # ------------------------------------------------------------------ hub → agent

    async def _push_loop(self, sub: Subscription) -> None:
        while True:
            push = await sub.get()  # typed: the bus hands over (or, from Redis, parses) the model
            if push is None:
                # the bus was cut off (Redis restarted or unreachable) and is back: pushes sent
                # meanwhile are lost, so offer this agent its assigned tasks again now rather
                # than at its next safety poll (60 s by default)
                self.hub.scheduler.kick(self.agent.id)
                continue
            if isinstance(push, WsRevoked):
                await self.send(WsError(detail="this agent was revoked"))
                await self.close(WS_AUTH_CLOSE_CODE, "agent revoked")
                return
            if self.hello is None:
                continue  # pushes only to connections that said hello
            if isinstance(push, WsWorkspaceAction) and FEATURE_WORKSPACE_ACTIONS not in self.hello.features:
                continue  # an older daemon could not read it (it fetches pending actions if it can)
            if isinstance(push, WsTaskAssigned):
                # a rerun (attempt) and a parked task that resumes (resume.attempt) are pushed again
                key = f"{push.task.id}:{push.task.attempt or 1}:{push.task.resume.attempt if push.task.resume else 0}"
                if key in self.pushed:
                    continue
                self.pushed.add(key)
            await self.send(push)

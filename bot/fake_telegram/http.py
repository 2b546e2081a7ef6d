"""HTTP: reading requests against the spec, dispatching them, faults and rate limits (a
mixin of `FakeTelegram`)."""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import re
import time
from typing import Any

from aiohttp import web

from .spec import UploadedFile
from .world import (
    _RATE_LIMITED_EXTRA,
    JSON,
    ApiError,
    Call,
    _bad,
    _Bucket,
    _Fault,
)


class HttpSide:
    """How requests arrive and are answered."""

    # -- HTTP ----------------------------------------------------------------------------------
    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return self._record(name, {}, ApiError(401, "Unauthorized").envelope(), 401)
        method = self.spec.canonical_method(name)
        if method is None:
            # Telegram answers unknown methods with 404 (PTB: EndPointNotFound).
            self._violation(name, "unknown_method", f"{name!r} is not a Bot API method")
            not_found = {"ok": False, "error_code": 404, "description": "Not Found"}
            return self._record(name, {}, not_found, 404)
        # In-flight requests keep wait_until_idle waiting; long polls don't count.
        tracked = method != "getUpdates"
        if tracked:
            self._inflight += 1
            self._touch()
        try:
            params, error = await self._read_params(request, method)
            if error is not None:
                return self._record(method, params, error.envelope(), error.error_code)
            fault = self._take_fault(method, params)
            if fault is not None and fault.kind == "error":
                extra = {"retry_after": fault.retry_after} if fault.retry_after else None
                error = ApiError(fault.error_code, fault.description, extra)
                return self._record(
                    method,
                    params,
                    error.envelope(),
                    error.error_code,
                    fault=f"error {fault.error_code}",
                )
            if fault is not None and not fault.perform:
                dropped = {"ok": False, "error_code": 0, "description": "connection dropped"}
                self._record(method, params, dropped, 0, fault="dropped")
                if tracked:
                    tracked = False
                    self._inflight -= 1
                await self._sleep(fault.delay)
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=502)
            body, status = await self._dispatch(method, params)
            response = self._record(
                method, params, body, status, fault="timeout" if fault else None
            )
            if fault is not None:
                # The effect already happened; only the answer comes too late.
                if tracked:
                    tracked = False
                    self._inflight -= 1
                self._notify()
                await self._sleep(fault.delay)
            return response
        finally:
            if tracked:
                self._inflight -= 1
                self._touch()
                self._notify()

    async def _dispatch(self, method: str, params: JSON) -> tuple[JSON, int]:
        try:
            self._check_rate_limit(method, params)
            handler = self._extra_handlers.get(method) or self._handlers.get(method)
            if handler is None:
                self.unsupported.append(method)
                raise _bad(
                    f"method {method} is not implemented by FakeTelegram "
                    "(add it with fake.add_handler)"
                )
            result = handler(params)
            if inspect.isawaitable(result):
                result = await result
        except ApiError as exc:
            return exc.envelope(), exc.error_code
        result = json.loads(json.dumps(result))  # snapshot: later edits mustn't change history
        for problem in self.spec.check(result, self.spec.method_returns(method), "result"):
            self._violation(method, "bad_response", problem)
        return {"ok": True, "result": result}, 200

    def _record(
        self, method: str, params: JSON, body: JSON, status: int, *, fault: str | None = None
    ) -> web.Response:
        self.calls.append(Call(method, params, time.monotonic(), status, body, fault))
        if method != "getUpdates":
            self._touch()
        self._notify()
        return web.json_response(body, status=status if status else 502)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").envelope(), status=401)
        path = request.match_info["path"]
        stored = next((f for f in self.files.values() if f.file_path == path), None)
        if stored is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.Response(
            body=stored.content, content_type=stored.mime_type or "application/octet-stream"
        )

    async def _read_params(self, request: web.Request, method: str) -> tuple[JSON, ApiError | None]:
        """Decode query/form/multipart/JSON parameters to typed values, checking the spec."""
        fields = self.spec.method_fields(method)
        raw: dict[str, Any] = dict(request.query)
        form = True
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                return {}, _bad("can't parse JSON body")
            if not isinstance(body, dict):
                return {}, _bad("JSON body must be an object")
            raw.update(body)
            form = False
        elif request.method == "POST" and request.can_read_body:
            posted = await request.post()
            for key, value in posted.items():
                if isinstance(value, web.FileField):
                    content = value.file.read()
                    raw[key] = UploadedFile(key, value.filename, content, value.content_type)
                else:
                    raw[key] = value
        attached = {
            v[len("attach://") :]
            for v in raw.values()
            if isinstance(v, str) and v.startswith("attach://")
        }
        params: JSON = {}
        problems: list[tuple[str, str, ApiError]] = []
        for key, value in raw.items():
            spec_field = fields.get(key)
            if spec_field is None:
                if isinstance(value, UploadedFile) and key in attached:
                    continue  # a part referenced as attach://<key>
                problems.append(
                    (
                        "unknown_parameter",
                        f"{method} has no parameter {key!r}",
                        _bad(f"unknown parameter {key!r} for {method}"),
                    )
                )
                continue
            decoded, errors = self._decode(value, spec_field["types"], key, form)
            if errors:
                problems.append(
                    ("bad_type", "; ".join(errors), _bad(f"can't parse {key}: {errors[0]}"))
                )
                continue
            if isinstance(decoded, str) and decoded.startswith("attach://"):
                decoded = raw.get(decoded[len("attach://") :], decoded)
            params[key] = decoded
        for key, spec_field in fields.items():
            if spec_field["required"] and key not in params and key not in raw:
                description = "message text is empty" if key == "text" else f"{key} is empty"
                problems.append(
                    ("missing_parameter", f"{method} requires {key!r}", _bad(description))
                )
        for kind, detail, _ in problems:
            self._violation(method, kind, detail)
        return params, (problems[0][2] if problems else None)

    def _decode(self, value: Any, types: list[str], name: str, form: bool) -> tuple[Any, list[str]]:
        """Typed value for a parameter; form values are strings, objects JSON-encoded."""
        if isinstance(value, str) and form:
            value = self._from_string(value, types)
        errors = self.spec.check(value, types, name)
        if errors and isinstance(value, str):
            # JSON bodies may still carry numbers or objects as strings; Telegram accepts it.
            coerced = self._from_string(value, types)
            if not self.spec.check(coerced, types, name):
                return coerced, []
        if (
            name in ("chat_id", "from_chat_id")
            and isinstance(value, str)
            and re.fullmatch(r"-?\d+", value)
        ):
            value = int(value)
        return value, errors

    def _from_string(self, raw: str, types: list[str]) -> Any:
        structured = [t for t in types if self.spec.is_structured(t)]
        if structured and raw.lstrip()[:1] in ("{", "["):
            with contextlib.suppress(ValueError):
                return json.loads(raw)
        for t in types:
            if t == "Integer" and re.fullmatch(r"-?\d+", raw):
                return int(raw)
            if t == "Float":
                with contextlib.suppress(ValueError):
                    return float(raw)
            if t in ("Boolean", "True") and raw.lower() in ("true", "1", "false", "0"):
                return raw.lower() in ("true", "1")
            if t in ("String", "InputFile"):
                return raw
        return raw  # left as a string; the type check reports it

    # -- faults & limits -----------------------------------------------------------------------
    def _take_fault(self, method: str, params: JSON) -> _Fault | None:
        for fault in self._faults:
            if fault.method != method or fault.count <= 0:
                continue
            if fault.chat_id is not None and params.get("chat_id") != fault.chat_id:
                continue
            fault.count -= 1
            self._faults = [f for f in self._faults if f.count > 0]
            return fault
        rng = self._fault_rng
        chosen = method != "getUpdates" and (
            self._fault_methods is None or method in self._fault_methods
        )
        if chosen and self._fault_rate and rng.random() < self._fault_rate:
            kind = self._fault_rng.choice(self._fault_kinds)
            if kind == "500":
                return _Fault(method, "error", 1)
            if kind == "502":
                return _Fault(method, "error", 1, error_code=502, description="Bad Gateway")
            return _Fault(method, "timeout", 1, delay=self.hang_delay, perform=kind == "hang")
        return None

    def _check_rate_limit(self, method: str, params: JSON) -> None:
        limits = self._rate_limits
        if limits is None:
            return
        sends = method.startswith("send") and method != "sendChatAction"
        if not (sends or method in _RATE_LIMITED_EXTRA):
            return
        chat_id = params.get("chat_id")
        buckets = [self._bucket("global", limits.global_per_second, limits.global_per_second)]
        if isinstance(chat_id, int) and chat_id > 0:
            buckets.append(self._bucket(chat_id, limits.private_burst, limits.private_per_second))
        elif chat_id is not None:
            burst = limits.group_burst or limits.group_per_minute
            buckets.append(self._bucket(chat_id, burst, limits.group_per_minute / 60))
        now = time.monotonic()
        wait = max(b.wait_time(now) for b in buckets)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )
        for bucket in buckets:
            bucket.take()

    def _bucket(self, key: Any, capacity: float, rate: float) -> _Bucket:
        if key not in self._buckets:
            self._buckets[key] = _Bucket(capacity, rate)
        return self._buckets[key]

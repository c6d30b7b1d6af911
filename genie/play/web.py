"""Playing a world in a web page served on this machine (127.0.0.1 unless asked otherwise).

    GET  /                  the page
    GET  /api/state         actions, key bindings, frame count, sampling settings
    GET  /api/frame.png     the current frame
    POST /api/step          {"action": int} -> {"frame": PNG data URL, "frames": n, "ms": ...}
    POST /api/reset         a prompt image as the body (PNG/JPEG/GIF, up to 8 MB), or empty for the default
    GET  /api/recording.gif the session so far

Bad requests get a 4xx status with {"error": "..."} and leave the session as it was; every
request gets an answer. Only pages of the address served may drive it: a request naming another
host (DNS rebinding) or a POST from another origin (a page of another site) is refused.
"""

from __future__ import annotations

import base64
import io
import json
import pathlib
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address

import numpy as np
from PIL import Image

from genie.data.frames import to_rgb
from genie.play.controls import bound_action, idle_action
from genie.play.session import PlaySession, PromptError

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
MAX_PROMPT_PIXELS = 4096 * 4096  # checked before decoding: a small file can hold a huge image
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp")
PAGE = pathlib.Path(__file__).with_name("page.html")


class RequestError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _png(frame: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(frame).save(out, format="PNG")
    return out.getvalue()


def read_prompt_bytes(body: bytes) -> np.ndarray:
    """An uploaded image as an RGB array, its size checked before it is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(body))
            if image.width * image.height > MAX_PROMPT_PIXELS:
                raise RequestError(413, f"the image is {image.width}x{image.height} pixels; the limit is "
                                        f"{MAX_PROMPT_PIXELS} pixels")
            return np.asarray(to_rgb(image))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise RequestError(413, f"the image is too large to decode: {e}") from None
    except (OSError, ValueError, SyntaxError) as e:  # what Pillow raises for a damaged or unknown file
        raise RequestError(400, f"cannot use this image as a prompt: {e}") from None


class SharedSession:
    """One play session shared by the page's requests, one request at a time."""

    def __init__(self, session: PlaySession, reset):
        self.session, self.reset_world = session, reset
        self.lock = threading.Lock()
        self.frame = reset()

    def state(self) -> dict:
        w = self.session
        bindings = {name: bound_action(w, left="left" in name, right="right" in name, jump="jump" in name)
                    for name in ("left", "right", "jump", "left+jump", "right+jump")}
        return {"actions": w.action_names(), "frames": len(w.frames), "idle_action": idle_action(w),
                "bindings": {k: v for k, v in bindings.items() if v is not None},
                "maskgit_steps": w.maskgit_steps, "temperature": w.temperature, "size": [w.height, w.width]}

    def step(self, body: bytes) -> dict:
        try:
            action = json.loads(body or b"{}")["action"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise RequestError(400, 'send {"action": <int>}') from None
        with self.lock:
            start = time.perf_counter()
            try:
                self.frame = self.session.step(action)
            except ValueError as e:
                raise RequestError(400, str(e)) from None
            ms = 1000 * (time.perf_counter() - start)
            return self._frame_reply(ms)

    def reset(self, body: bytes, content_type: str) -> dict:
        if body and content_type not in IMAGE_TYPES:
            raise RequestError(415, f"a prompt is an image ({', '.join(IMAGE_TYPES)}), not {content_type!r}")
        prompt = read_prompt_bytes(body) if body else None  # decoded before the session is held
        with self.lock:
            if prompt is None:
                self.frame = self.reset_world()
            else:
                try:
                    self.frame = self.session.reset(prompt)
                except PromptError as e:
                    raise RequestError(400, f"cannot use this image as a prompt: {e}") from None
            return self._frame_reply(0.0)

    def _frame_reply(self, ms: float) -> dict:
        url = "data:image/png;base64," + base64.b64encode(_png(self.frame)).decode()
        return {"frame": url, "frames": len(self.session.frames), "ms": round(ms, 1)}

    def recording(self) -> bytes:
        import tempfile

        with self.lock, tempfile.TemporaryDirectory() as tmp:
            return self.session.save(pathlib.Path(tmp) / "session.gif").read_bytes()


def _is_loopback(host: str) -> bool:
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def make_handler(shared: SharedSession, host: str, timeout: float):
    """The request handler of a server bound to `host`; `timeout`: seconds a client may take to
    send a request before it is answered 408."""
    names = {"localhost", "127.0.0.1", "[::1]"} if _is_loopback(host) else None  # None: any (warned)

    class Handler(BaseHTTPRequestHandler):
        def setup(self):
            super().setup()
            self.connection.settimeout(timeout)

        def log_message(self, *args):  # quiet: the page polls nothing, but steps are many
            pass

        def _check_origin(self, method: str):
            """Refuses a request for another host name (a page whose name was re-pointed at this
            machine) and a POST sent by a page of another origin."""
            host = self.headers.get("Host") or ""
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if names is not None and name not in names:
                raise RequestError(403, f"this server answers requests for {sorted(names)}, not {host!r}")
            origin = self.headers.get("Origin")
            if method == "POST" and origin is not None and origin != f"http://{host}":
                raise RequestError(403, f"a page of {origin} may not drive this session")
            if method == "POST" and self.headers.get("Sec-Fetch-Site") == "cross-site":
                raise RequestError(403, "a page of another site may not drive this session")

        def _send(self, status: int, body: bytes, content_type: str, extra: dict | None = None):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, payload: dict):
            self._send(status, json.dumps(payload).encode(), "application/json")

        def _body(self) -> bytes:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                raise RequestError(400, "bad Content-Length") from None
            if length > MAX_UPLOAD_BYTES:
                raise RequestError(413, f"the body is {length} bytes; the limit is {MAX_UPLOAD_BYTES}")
            return self.rfile.read(length) if length > 0 else b""

        def _route(self, method: str):
            path = self.path.split("?")[0]
            if method == "GET" and path == "/":
                return self._send(200, PAGE.read_bytes(), "text/html; charset=utf-8")
            if method == "GET" and path == "/api/state":
                return self._json(200, shared.state())
            if method == "GET" and path == "/api/frame.png":
                return self._send(200, _png(shared.frame), "image/png")
            if method == "GET" and path == "/api/recording.gif":
                return self._send(200, shared.recording(), "image/gif",
                                  {"Content-Disposition": 'attachment; filename="genie-shared.gif"'})
            if method == "POST" and path == "/api/step":
                return self._json(200, shared.step(self._body()))
            if method == "POST" and path == "/api/reset":
                content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                return self._json(200, shared.reset(self._body(), content_type))
            known = path in ("/", "/api/state", "/api/frame.png", "/api/recording.gif", "/api/step", "/api/reset")
            raise RequestError(405 if known else 404, f"{method} {path} is not served here")

        def _handle(self, method: str):
            try:
                self._check_origin(method)
                self._route(method)
            except RequestError as e:
                self._fail(e.status, str(e))
            except TimeoutError:
                self._fail(408, f"the request was not sent within {timeout} s")
            except Exception as e:  # answered, never a dropped connection
                self._fail(500, f"{type(e).__name__}: {e}")

        def _fail(self, status: int, message: str):
            self.close_connection = True  # an unread body may follow
            try:
                self._json(status, {"error": message})
            except OSError:  # the client has gone
                pass

        def do_GET(self):
            self._handle("GET")

        def do_POST(self):
            self._handle("POST")

    return Handler


def serve(session: PlaySession, reset, host: str = "127.0.0.1", port: int = 8000,
          timeout: float = 30.0) -> ThreadingHTTPServer:
    """A server for the world (not yet serving: call serve_forever(), or run it in a thread)."""
    if not _is_loopback(host):
        warnings.warn(f"serving on {host}: any machine that can reach this one can play this world and upload "
                      "images to it; --host 127.0.0.1 keeps it to this machine", stacklevel=2)
    handler = make_handler(SharedSession(session, reset), host, timeout)
    try:
        return ThreadingHTTPServer((host, port), handler)
    except OSError as e:
        raise RuntimeError(f"cannot serve on {host}:{port}: {e.strerror or e}; choose another --port "
                           "(0 picks a free one)") from None

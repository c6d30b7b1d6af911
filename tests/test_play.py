"""Playing a tiny trained world as a person would: the headless CLI, the window, the web page."""

import http.client
import io
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import types
import urllib.error
import urllib.request
import zlib

import imageio.v3 as iio
import pytest
from PIL import Image

from genie.play.controls import bound_action, idle_action, parse_actions
from genie.play.session import PlaySession
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def session(tiny_run):
    return PlaySession.load(tiny_run)


def test_headless_cli_writes_the_session(tiny_run, prompt_png, tmp_path):
    out = tmp_path / "play.gif"
    cmd = [sys.executable, "scripts/play.py", "--workdir", str(tiny_run), "--prompt", str(prompt_png),
           "--actions", "0,3,3,1,right", "--out", str(out)]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert iio.imread(out).shape[0] == 6  # the prompt and five steps
    bad = subprocess.run(cmd[:-4] + ["--actions", "0,9", "--out", str(out)], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode == 2 and "action 9 is out of range" in bad.stderr


def test_actions_by_number_or_by_name(session):
    assert session.action_map and set(session.action_map) >= {"left", "right", "jump"}
    assert parse_actions("0, 3,right", session) == [0, 3, session.action_map["right"]]
    assert bound_action(session, right=True, jump=True) == session.action_map["right+jump"]
    assert bound_action(session) is None
    # A Procgen world's map names actions by their keys: jump is UP, nothing pressed NOOP.
    procgen = types.SimpleNamespace(action_map={"LEFT": 1, "RIGHT": 2, "UP": 3, "RIGHT+UP": 4, "NOOP": 5})
    assert [bound_action(procgen, right=True, jump=True), bound_action(procgen, jump=True),
            bound_action(procgen, left=True), idle_action(procgen)] == [4, 3, 1, 5]
    with pytest.raises(ValueError, match="unknown action 'fly'"):
        parse_actions("fly", session)


def test_window_plays_with_held_keys(session, tmp_path, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")  # a real pygame window, drawn off screen
    import pygame

    from genie.play.window import Window

    held = set()

    class Keys:
        def __getitem__(self, key):
            return key in held

    monkeypatch.setattr(pygame.key, "get_pressed", lambda: Keys())
    window = Window(session, lambda: session.reset_to_level(3), scale=4, max_fps=1000, record=str(tmp_path / "w.gif"))
    window.tick()
    assert window.action == session.action_map.get("noop", 0) and len(session.actions) == 1
    held.add(pygame.K_3)
    window.tick()
    assert window.action == 2
    held.clear()
    held.add(pygame.K_RIGHT)
    window.tick()
    assert window.action == session.action_map["right"]
    for key in (pygame.K_p, pygame.K_s):
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key))
    window.tick()  # paused: no new frame; saved
    assert len(session.actions) == 3 and window.paused and (tmp_path / "w.gif").exists()
    pygame.image.save(window.screen, str(tmp_path / "window.png"))
    shot = iio.imread(tmp_path / "window.png")
    assert shot.shape[:2] == (32 * 4 + 74, 32 * 4) and shot[:128].std() > 0  # the frame is drawn
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_r))
    window.tick()
    assert len(session.frames) == 1  # reset to the prompt
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE))
    window.tick()
    assert not window.running
    pygame.quit()


@pytest.fixture(scope="module")
def server(session):
    from genie.play.web import serve

    httpd = serve(session, lambda: session.reset_to_level(3), port=0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _request(url, data=None, content_type="application/json"):
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type} if data else {},
                                     method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_web_api_checks_its_inputs_and_keeps_the_session(server, session, prompt_png):
    status, body = _request(server + "/api/state")
    state = json.loads(body)
    assert status == 200 and len(state["actions"]) == session.num_actions and "right" in state["bindings"]
    ok, body = _request(server + "/api/step", b'{"action": 1}')
    frames = json.loads(body)["frames"]
    assert ok == 200 and json.loads(body)["frame"].startswith("data:image/png;base64,")
    for data, content_type, status_code, message in [
            (b'{"action": 99}', "application/json", 400, "an action is an integer"),
            (b'{"action": "1"}', "application/json", 400, "an action is an integer"),
            (b"not json", "application/json", 400, "send {"),
            (b"hello", "text/plain", 415, "a prompt is an image"),
            (b"\x89PNG broken", "image/png", 400, "cannot use this image")]:
        path = "/api/reset" if content_type != "application/json" else "/api/step"
        status, body = _request(server + path, data, content_type)
        assert status == status_code and message in json.loads(body)["error"], (data, body)
    host, port = server.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    connection.putrequest("POST", "/api/reset")  # announces 9 MB; the server answers before reading them
    connection.putheader("Content-Type", "image/png")
    connection.putheader("Content-Length", str(9 * 1024 * 1024))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413 and "the limit is" in json.loads(response.read())["error"]
    connection.close()
    assert _request(server + "/nowhere")[0] == 404
    assert _request(server + "/api/step")[0] == 405  # GET of a POST endpoint
    # The session went on untouched by the bad requests.
    status, body = _request(server + "/api/step", b'{"action": 2}')
    assert status == 200 and json.loads(body)["frames"] == frames + 1
    status, body = _request(server + "/api/reset", prompt_png.read_bytes(), "image/png")
    assert status == 200 and json.loads(body)["frames"] == 1
    status, gif = _request(server + "/api/recording.gif")
    assert status == 200 and iio.imread(gif).shape[0] == 1


def _png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _claiming_size(png: bytes, width: int, height: int) -> bytes:
    """A PNG whose header claims another size (its CRC redone), as a decompression bomb's does."""
    header = png[16:29]
    header = struct.pack(">II", width, height) + header[8:]
    return png[:16] + header + struct.pack(">I", zlib.crc32(b"IHDR" + header)) + png[33:]


def _raw(server, request: bytes, wait: float = 10.0) -> bytes:
    host, port = server.removeprefix("http://").split(":")
    reply = b""
    with socket.create_connection((host, int(port)), timeout=wait) as s:
        s.sendall(request)
        while chunk := s.recv(65536):  # the server closes the connection after an error reply
            reply += chunk
    return reply


def test_web_server_answers_hostile_requests_and_keeps_the_session(server, session, monkeypatch):
    from genie.play.web import serve

    frames = json.loads(_request(server + "/api/state")[1])["frames"]
    big = _png_bytes(Image.new("L", (5000, 5000)))  # 25 megapixels in a few tens of KB
    bomb = _claiming_size(_png_bytes(Image.new("L", (1, 1))), 40000, 40000)
    for data, status_code, message in [(big, 413, "the limit is"), (bomb, 413, "too large"),
                                       (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, 400, "cannot use this image")]:
        status, body = _request(server + "/api/reset", data, "image/png")
        assert status == status_code and message in json.loads(body)["error"], body
    # A page of another site, and a name re-pointed at this machine, may not drive the session.
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        request = urllib.request.Request(server + "/api/step", b'{"action": 1}', method="POST",
                                         headers={"Content-Type": "text/plain", **headers})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=60)
        assert refused.value.code == 403
    reply = _raw(server, b"GET /api/state HTTP/1.1\r\nHost: evil.example:80\r\n\r\n")
    assert reply.startswith(b"HTTP/1.0 403") and b"not 'evil.example:80'" in reply
    # An error inside the session is answered, not a dropped connection.
    monkeypatch.setattr(session, "step", lambda action: 1 / 0)
    status, body = _request(server + "/api/step", b'{"action": 1}')
    assert status == 500 and "ZeroDivisionError" in json.loads(body)["error"]
    monkeypatch.undo()
    assert json.loads(_request(server + "/api/state")[1])["frames"] == frames  # nothing reached the session
    # A client that stops sending is answered 408 after the timeout; a busy port and a bind beyond
    # this machine are said plainly.
    slow = serve(session, lambda: session.reset_to_level(3), port=0, timeout=0.5)
    threading.Thread(target=slow.serve_forever, daemon=True).start()
    try:
        address = f"http://127.0.0.1:{slow.server_address[1]}"
        reply = _raw(address, b"POST /api/step HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 50\r\n\r\n{")
        assert reply.startswith(b"HTTP/1.0 408")
        with pytest.raises(RuntimeError, match="choose another --port"):
            serve(session, lambda: session.reset_to_level(3), port=slow.server_address[1])
    finally:
        slow.shutdown()
        slow.server_close()
    with pytest.warns(UserWarning, match="any machine that can reach this one"):
        serve(session, lambda: session.reset_to_level(3), host="0.0.0.0", port=0).server_close()


def _chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=900,1000"):
        options.add_argument(arg)
    options.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))


def test_web_page_in_headless_chromium(server, session, prompt_png, tmp_path):
    if not os.path.exists("/usr/bin/chromedriver"):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromium-driver are missing: .ci/run installs them")
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    browser = _chromium()
    try:
        browser.get(server + "/")
        wait = WebDriverWait(browser, 60)
        buttons = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#actions button"))
        assert len(buttons) == session.num_actions
        frame = browser.find_element(By.ID, "frame")
        status = browser.find_element(By.ID, "status")

        def frames_shown():
            return int(status.text.split()[1]) if status.text.startswith("frame ") else -1

        start = len(session.frames)
        wait.until(lambda b: frames_shown() == start)
        before = frame.get_attribute("src")
        buttons[2].click()
        wait.until(lambda b: frames_shown() == start + 1)
        assert frame.get_attribute("src") != before and "active" in buttons[2].get_attribute("class")
        browser.find_element(By.TAG_NAME, "body").send_keys("1")
        wait.until(lambda b: frames_shown() == start + 2)
        browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_RIGHT)
        wait.until(lambda b: frames_shown() == start + 3)
        assert session.actions[-3:] == [2, 0, session.action_map["right"]]
        browser.find_element(By.ID, "upload").send_keys(str(prompt_png))
        wait.until(lambda b: frames_shown() == 1)
        assert browser.find_element(By.ID, "error").text == ""
        assert browser.find_element(By.ID, "download").get_attribute("href").endswith("/api/recording.gif")
        browser.save_screenshot(str(tmp_path / "page.png"))
        assert iio.imread(tmp_path / "page.png").std() > 0
    finally:
        browser.quit()

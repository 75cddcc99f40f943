"""Hostile input against ``lipsync-emulator serve`` over real sockets (loopback only): the
control plane keeps every credential to itself and, away from loopback, asks for a token;
``--api-key`` closes every way in; deeply nested JSON, doubled slashes, over-long chunked
bodies and non-finite token times get the provider's own clear answer, never a 5xx.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.reliability.serving import Served, free_port

KEY_A, KEY_B = "sk_live_tenant_a_0123456789abcdef", "sk_live_tenant_b_fedcba9876543210"
KLING_AK, KLING_SK = "kling_emulator_access_key", "kling_sk_configured_0123456789abcdefgh"
LIMIT = 65536
DEEP = "[" * 5000 + "]" * 5000
MEDIUM = "[" * 100 + "]" * 100  # deep enough to recurse in validation, shallow enough to parse
VIDEO, AUDIO = "https://e.x/v.mp4", "https://e.x/a.wav"
SYNC_BODY = {"model": "lipsync-2", "input": [{"type": "video", "url": VIDEO}, {"type": "audio", "url": AUDIO}]}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt(claims: str, header: str = '{"alg":"HS256","typ":"JWT"}', secret: str = KLING_SK) -> str:
    """An HS256 token over the raw JSON texts given (so they may be deep, or say NaN)."""
    signing = f"{b64(header.encode())}.{b64(claims.encode())}"
    return f"{signing}.{b64(hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest())}"


def kling_token(exp: str | None = None) -> str:
    return jwt(f'{{"iss":"{KLING_AK}","exp":{exp or int(time.time() + 1800)},"nbf":{int(time.time() - 5)}}}')


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with Served(str(tmp_path_factory.mktemp("hostile")), "--api-key", KEY_A, "--api-key", KEY_B,
                f"--set=kling.secret_key={KLING_SK}", f"--set=max_body_bytes={LIMIT}",
                f"--set=lipsyncstudio.balances={json.dumps({KEY_A: 500})}") as served:
        yield served


def call(served: Served, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, served.url + path, timeout=30, allow_redirects=False, **kwargs)


# -- the control plane shows no credential -----------------------------------------------------

def test_no_tenant_credential_or_signing_key_is_shown_by_any_control_plane_endpoint(served):
    token = kling_token()
    job_id = call(served, "POST", "/v2/generate", json={**SYNC_BODY, "webhookUrl": "http://127.0.0.1:9/x"},
                  headers={"x-api-key": KEY_A}).json()["id"]
    call(served, "POST", "/api/v3/bytedance/latentsync", json={"video": VIDEO, "audio": AUDIO},
         headers={"Authorization": f"Bearer {KEY_B}"})
    call(served, "POST", "/api/v1/lipsync-video", json={"formState": {"video": VIDEO, "audio": "https://e.x/a.mp3"}},
         headers={"Authorization": f"Bearer {KEY_A}"})
    call(served, "GET", "/v1/videos/advanced-lip-sync", headers={"Authorization": f"Bearer {token}"})
    call(served, "GET", "/kling/v1/videos/advanced-lip-sync", headers={"Authorization": f"Bearer {KEY_B}"})
    served.control("POST", "/scenarios", json={"provider": "syncso", "scenario": "failed", "api_key": KEY_A})
    secrets = (KEY_A, KEY_B, KLING_SK, token)
    shown = {path: call(served, "GET", f"/_emulator{path}") for path in (
        "/requests", "/config", "/jobs", "/webhooks", "/scenarios", "/lipsyncstudio/credits",
        "/lipsyncstudio/charges", "/overview", f"/jobs/syncso/{job_id}")}
    for path, resp in shown.items():
        assert resp.status_code == 200, (path, resp.text)
        leaked = [s[:12] for s in secrets if s in resp.text]
        assert not leaked, f"{path} shows {leaked}"
    journal = shown["/requests"].json()
    assert len(journal) >= 5
    assert {r["request_headers"].get("X-Api-Key") for r in journal if r["provider"] == "syncso"} == \
        {"<redacted ..." + KEY_A[-4:] + ">"}
    bearers = {r["path"]: r["request_headers"]["Authorization"] for r in journal if r["provider"] in ("wavespeed", "kling")}
    assert bearers["/api/v3/bytedance/latentsync"] == "Bearer <redacted ..." + KEY_B[-4:] + ">"
    assert bearers["/kling/v1/videos/advanced-lip-sync"] == "Bearer <redacted ..." + KEY_B[-4:] + ">"
    # a JWT keeps its claims (to inspect what a client sent), not the signature that makes it usable
    assert bearers["/v1/videos/advanced-lip-sync"] == "Bearer " + token.rsplit(".", 1)[0] + ".<redacted>"
    assert shown[f"/jobs/syncso/{job_id}"].json()["poll"]["headers"]["x-api-key"] == "<redacted ..." + KEY_A[-4:] + ">"
    # the dashboard's view of the provider's answer is asked by the emulator, with the job's own key
    answer = call(served, "GET", f"/_emulator/jobs/syncso/{job_id}/answer").json()
    assert answer["status"] == 200 and job_id in answer["body"] and KEY_A not in json.dumps(answer)
    config = shown["/config"].json()
    assert config["kling"]["secret_key"] == "<redacted ..." + KLING_SK[-4:] + ">"
    assert config["syncso"]["webhook_secret"]  # a receiver under test needs it to verify


def test_a_proxied_or_remote_client_is_refused_the_control_plane_without_the_token(served):
    """No token configured (loopback bind): only loopback clients; a request that came
    through a proxy is not one."""
    forwarded = {"X-Forwarded-For": "203.0.113.7"}
    resp = call(served, "POST", "/_emulator/reset", headers=forwarded)
    assert resp.status_code == 403 and resp.json()["error"] == "Forbidden"
    assert "loopback clients only" in resp.json()["message"]
    # the providers' clients still get their outputs and health from anywhere
    assert call(served, "GET", "/_emulator/health", headers=forwarded).status_code == 200
    assert call(served, "GET", "/_emulator/media/syncso/x/out.mp4", headers=forwarded).status_code == 200
    assert call(served, "GET", "/_emulator/media/../config", headers=forwarded).status_code in (403, 404)


def test_serve_on_a_non_loopback_address_prints_a_token_and_requires_it(tmp_path):
    port = free_port()
    cmd = [sys.executable, "-m", "lipsync_emulator", "serve", "--host", "0.0.0.0", "--port", str(port),
           "--data-dir", str(tmp_path), "--log-level", "off"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        banner = []
        assert proc.stdout is not None
        for line in proc.stdout:  # the banner is printed before serving starts
            banner.append(line)
            if line.lstrip().startswith("state"):
                break
        text = "".join(banner)
        assert "WARNING" in text and "non-loopback" in text
        token = next(line.split()[2] for line in banner if line.strip().startswith("control token"))
        assert len(token) >= 24
        url = f"http://127.0.0.1:{port}"  # listening: serve prints its banner once the socket is bound
        remote = {"X-Forwarded-For": "198.51.100.4"}
        refused = requests.post(f"{url}/_emulator/reset", headers=remote, timeout=10)
        assert refused.status_code == 401 and refused.json()["field"] == "X-Emulator-Token"
        wrong = requests.post(f"{url}/_emulator/reset", headers={**remote, "X-Emulator-Token": token + "x"}, timeout=10)
        assert wrong.status_code == 401
        assert requests.post(f"{url}/_emulator/reset", headers={**remote, "X-Emulator-Token": token},
                             timeout=10).status_code == 200
        # a browser: ?token= once, then the cookie it was given
        session = requests.Session()
        first = session.get(f"{url}/_emulator/config", params={"token": token}, headers=remote, timeout=10)
        assert first.status_code == 200 and "emulator_token" in first.headers["Set-Cookie"]
        assert session.get(f"{url}/_emulator/jobs", headers=remote, timeout=10).status_code == 200
        assert requests.get(f"{url}/_emulator/jobs", timeout=10).status_code == 200  # loopback: no token
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


# -- --api-key closes every way in ------------------------------------------------------------------

def test_api_key_restricts_the_kling_relay_paths(served):
    for path in ("/kling/v1/videos/advanced-lip-sync", "/kling/v1/videos/advanced-lip-sync/some-task"):
        refused = call(served, "GET", path, headers={"Authorization": "Bearer anything-at-all"})
        assert refused.status_code == 401 and refused.json()["code"] == 1002, refused.text
    assert call(served, "GET", "/kling/v1/videos/advanced-lip-sync",
                headers={"Authorization": f"Bearer {KEY_A}"}).status_code == 200


# -- deeply nested JSON ------------------------------------------------------------------------------

def test_a_kling_token_with_deeply_nested_header_or_payload_is_an_invalid_token(served):
    deep_payload = jwt(f'{{"iss":"{KLING_AK}","exp":{int(time.time() + 1800)},"x":{DEEP}}}')
    deep_header = jwt(f'{{"iss":"{KLING_AK}","exp":{int(time.time() + 1800)}}}',
                      header=f'{{"alg":"HS256","typ":"JWT","x":{DEEP}}}')
    for token in (deep_payload, deep_header):
        resp = call(served, "GET", "/v1/videos/advanced-lip-sync", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 401 and resp.json()["code"] == 1002, resp.text


def test_a_syncso_multipart_input_field_nested_deeply_is_a_400_naming_it(served):
    for depth in (DEEP, MEDIUM):
        resp = call(served, "POST", "/v2/generate", headers={"x-api-key": KEY_A}, data={"model": "lipsync-2"},
                    files={"input": (None, depth), "video": ("v.mp4", b"\0\0\0\x18ftypmp42", "video/mp4")})
        assert resp.status_code == 400 and resp.json()["errorCode"] == "generation_input_validation_failed"
        assert "input" in resp.json()["message"]


def test_a_batch_jsonl_line_nested_deeply_is_a_400_naming_the_line(served):
    line = json.dumps({"request_id": "r", "endpoint": "/v2/generate", "payload": SYNC_BODY})
    for depth in (DEEP, MEDIUM):
        data = "\n".join([line.replace('"r"', f'"r{i}"') for i in range(19)] +
                         ['{"request_id":"deep","endpoint":"/v2/generate","payload":' + depth + "}"]).encode()
        resp = call(served, "POST", "/v2/batch", headers={"x-api-key": KEY_A}, data={"dry_run": "true"},
                    files={"input": ("batch.jsonl", data, "application/jsonl")})
        assert resp.status_code == 400, resp.text
        assert "line 20" in resp.json()["message"]


@pytest.mark.parametrize("path,headers,shape", [
    ("/v2/generate", {"x-api-key": KEY_A}, "statusCode"),
    ("/api/v3/bytedance/latentsync", {"Authorization": f"Bearer {KEY_A}"}, "code"),
    ("/api/v1/lipsync-video", {"Authorization": f"Bearer {KEY_A}"}, "error"),
    ("/v1/videos/advanced-lip-sync", {"Authorization": f"Bearer {KEY_A}"}, "code"),
    ("/_emulator/scenarios", {}, "error"),
])
def test_a_deeply_nested_json_body_is_a_400_in_the_providers_shape(served, path, headers, shape):
    for depth in (DEEP, MEDIUM):
        resp = call(served, "POST", path, data='{"a":' + depth + "}",
                    headers={**headers, "Content-Type": "application/json"})
        assert resp.status_code == 400, resp.text
        assert shape in resp.json() and "nested deeper than 64 levels" in resp.text


# -- smaller findings ----------------------------------------------------------------------------------

def test_a_doubled_slash_is_an_unknown_path_in_the_providers_shape_not_a_redirect(served):
    resp = call(served, "GET", "/v2//generations", headers={"x-api-key": KEY_A, "Host": "evil.example"})
    assert resp.status_code == 404 and "Location" not in resp.headers
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.json()["message"] == "Cannot GET /v2//generations"
    resp = call(served, "GET", "/api/v3//predictions/x/result", headers={"Authorization": f"Bearer {KEY_A}"})
    assert resp.status_code == 404 and "Location" not in resp.headers and resp.json()["code"] == 404


def test_a_chunked_body_over_the_limit_is_a_413_in_the_providers_shape(served):
    def chunks(total: int) -> Iterator[bytes]:
        yield b'{"model":"lipsync-2","x":"'
        for _ in range(total // 8192):
            yield b"x" * 8192
        yield b'"}'

    resp = call(served, "POST", "/v2/generate", data=chunks(LIMIT * 2),
                headers={"x-api-key": KEY_A, "Content-Type": "application/json"})
    assert resp.status_code == 413 and resp.json()["error"] == "Payload Too Large", resp.text
    small = call(served, "POST", "/v2/generate", data=iter([json.dumps(SYNC_BODY).encode()]),
                 headers={"x-api-key": KEY_A, "Content-Type": "application/json"})
    assert small.status_code == 201, small.text


@pytest.mark.parametrize("exp", ["NaN", "Infinity", "-Infinity"])
def test_a_signed_kling_token_with_a_non_finite_exp_is_invalid(served, exp):
    resp = call(served, "GET", "/v1/videos/advanced-lip-sync",
                headers={"Authorization": f"Bearer {kling_token(exp)}"})
    assert resp.status_code == 401 and resp.json()["code"] == 1002, resp.text
    assert call(served, "GET", "/v1/videos/advanced-lip-sync",
                headers={"Authorization": f"Bearer {kling_token()}"}).status_code == 200

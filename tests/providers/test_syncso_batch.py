"""sync.so batches (reference §3.6-3.8, §4.9, §6; checklist items 60-67), through syncsdk 0.3.0
where it has the call and raw HTTP otherwise."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sync import Sync
from sync.common.errors import BadRequestError, NotFoundError, PaymentRequiredError, TooManyRequestsError

KEY = {"x-api-key": "sk-test"}
VIDEO = {"type": "video", "url": "https://e.x/v.mp4"}
AUDIO = {"type": "audio", "url": "https://e.x/a.wav"}
VALID = {"model": "lipsync-2", "input": [VIDEO, AUDIO]}


def line(request_id: str, payload: Any = None, endpoint: str = "/v2/generate") -> str:
    return json.dumps({"request_id": request_id, "endpoint": endpoint, "payload": VALID if payload is None else payload})


def jsonl(count: int = 20, payloads: dict[int, Any] | None = None) -> bytes:
    """``count`` valid lines; ``payloads`` replaces the payload of some (0-based) lines."""
    payloads = payloads or {}
    return ("\n".join(line(f"req_{i:03d}", payloads.get(i)) for i in range(count)) + "\n").encode()


def post_batch(emu: Any, data: bytes, headers: dict[str, str] | None = None, **form: str) -> requests.Response:
    return requests.post(f"{emu.url}/v2/batch", files={"input": ("batch.jsonl", data, "application/jsonl")},
                         data=form, headers=KEY if headers is None else headers, timeout=30)


def get(emu: Any, path: str, **kw: Any) -> requests.Response:
    return requests.get(f"{emu.url}{path}", headers=KEY, timeout=10, **kw)


@pytest.fixture
def client(emulator: Any) -> Sync:
    return Sync(api_key="sk-test", base_url=emulator.url)


# -- create ---------------------------------------------------------------------------------

def test_item_60_dry_run_validates_and_creates_nothing(emulator, client):
    result = client.batch.create(input=("batch.jsonl", jsonl(20)), dry_run=True)
    assert result.status == "VALIDATED"
    raw = post_batch(emulator, jsonl(20), dry_run="true")
    assert raw.status_code == 200 and raw.json() == {"status": "VALIDATED"}
    assert client.batch.list() == []
    assert get(emulator, "/v2/generations").json() == []


def test_item_61_create_returns_pending_batch_response(emulator, client):
    batch = client.batch.create(input=("batch.jsonl", jsonl(20)), dry_run=False)
    assert batch.status == "PENDING"
    assert batch.id.startswith("batch_")
    assert batch.output_url == ""
    assert (batch.metrics.total_generations, batch.metrics.success_count, batch.metrics.failed_count,
            batch.metrics.pending_count) == (20, 0, 0, 20)
    raw = get(emulator, f"/v2/batch/{batch.id}").json()
    assert set(raw) == {"id", "created_at", "status", "metrics", "webhookUrl", "outputUrl"}
    assert raw["metrics"] == {"total_generations": 20, "success_count": 0, "failed_count": 0, "pending_count": 20}
    assert raw["outputUrl"] == "" and raw["webhookUrl"] is None
    datetime.fromisoformat(raw["created_at"].replace("Z", "+00:00"))


def test_item_61_text_part_and_sdk_false_flag_are_accepted(emulator):
    resp = requests.post(f"{emulator.url}/v2/batch", files={"input": (None, jsonl(20).decode())},
                         data={"dry_run": "false"}, headers=KEY, timeout=10)
    assert resp.status_code == 200 and resp.json()["status"] == "PENDING"


@pytest.mark.parametrize("count", [19, 501])
def test_item_62_record_count_outside_20_to_500_is_400(emulator, client, count):
    with pytest.raises(BadRequestError) as err:
        client.batch.create(input=("batch.jsonl", jsonl(count)))
    assert err.value.status_code == 400
    body = err.value.body
    assert "between 20 and 500 records" in body.message and f"found {count}" in body.message


def test_item_62_blank_lines_are_not_records(emulator):
    data = jsonl(20).replace(b"\n", b"\n\n", 5)
    assert post_batch(emulator, data).status_code == 200


def test_item_62_file_larger_than_5_mb_is_400(emulator):
    data = jsonl(20) + b" " * (5 * 1024 * 1024)
    resp = post_batch(emulator, data)
    assert resp.status_code == 400
    assert "maximum file size is 5242880 bytes" in resp.json()["message"]


def test_item_62_limits_are_configurable_to_the_2025_values(make_emulator):
    emu = make_emulator({"syncso": {"batch_min_records": 1, "batch_max_records": 1000}})
    assert post_batch(emu, jsonl(3)).status_code == 200
    assert post_batch(emu, jsonl(1001)).status_code == 400


def test_item_62_non_utf8_file_is_400(emulator):
    resp = post_batch(emulator, b"\xff\xfe" + jsonl(20))
    assert resp.status_code == 400 and "UTF-8" in resp.json()["message"]


def test_item_62_missing_input_part_is_400_naming_it(emulator):
    resp = requests.post(f"{emulator.url}/v2/batch", data={"dry_run": "true"}, headers=KEY, timeout=10,
                         files={"other": ("x", b"1")})
    assert resp.status_code == 400 and "input is required" in resp.json()["message"]
    json_body = requests.post(f"{emulator.url}/v2/batch", json={"input": "x"}, headers=KEY, timeout=10)
    assert json_body.status_code == 400 and json_body.json()["message"] == "Content-Type must be multipart/form-data"


BAD_PAYLOADS: dict[str, Any] = {
    "bad model": {**VALID, "model": "bogus-model"},
    "no video": {"model": "lipsync-2", "input": [AUDIO]},
    "segments ref": {"model": "lipsync-2", "input": [VIDEO, {**AUDIO, "refId": "a1"}],
                     "segments": [{"startTime": 0, "endTime": 5, "audioInput": {"refId": "A1"}}]},
    "zero duration": {"model": "lipsync-2", "input": [VIDEO, {**AUDIO, "url": "https://e.x/a.wav?duration=0"}]},
    "bad option": {**VALID, "options": {"sync_mode": "weird"}},
}


def test_item_62_each_line_is_validated_like_post_generate(emulator):
    """The per-line errors are exactly what POST /v2/generate answers for the same payload."""
    lines = [line(f"r{i}") for i in range(20)]
    for i, payload in enumerate(BAD_PAYLOADS.values()):
        lines[2 * i + 1] = line(f"bad{i}", payload)
    resp = post_batch(emulator, ("\n".join(lines) + "\n").encode())
    assert resp.status_code == 400
    body = resp.json()
    assert body["statusCode"] == 400 and body["errorCode"] == "generation_input_validation_failed"
    assert body["message"].startswith("5 of 20 lines are invalid: line 2: ")
    assert [e["line"] for e in body["errors"]] == [2, 4, 6, 8, 10]
    for i, (entry, payload) in enumerate(zip(body["errors"], BAD_PAYLOADS.values(), strict=True)):
        direct = requests.post(f"{emulator.url}/v2/generate", json=payload, headers=KEY, timeout=10)
        assert entry["request_id"] == f"bad{i}"
        assert entry["statusCode"] == direct.status_code
        assert entry["errorCode"] == direct.json()["errorCode"]
        assert entry["message"] == direct.json()["message"]
        assert entry["field"].startswith("payload")
    assert body["errors"][0]["field"] == "payload.model"
    assert body["errors"][3]["statusCode"] == 422
    assert get(emulator, "/v2/generations").json() == [], "a rejected file creates nothing"


def test_item_62_line_envelope_errors_are_reported_per_line(emulator):
    lines = [line(f"r{i}") for i in range(20)]
    lines[0] = "{not json"
    lines[1] = json.dumps(["a list"])
    lines[2] = json.dumps({"endpoint": "/v2/generate", "payload": VALID})
    lines[3] = line("r5")  # duplicate of line 6's request_id
    lines[4] = line("r4", endpoint="/v2/analyze/cost")
    lines[6] = json.dumps({"request_id": "r6", "endpoint": "/v2/generate"})
    lines[7] = line("r7", {**VALID, "input": [{**VIDEO, "url": "https://e.x/v.mp4?duration=31"}, AUDIO]})
    resp = post_batch(emulator, ("\n".join(lines) + "\n").encode())
    errors = {e["line"]: e for e in resp.json()["errors"]}
    assert sorted(errors) == [1, 2, 3, 5, 6, 7, 8]
    assert errors[1]["field"] == "line" and "not valid JSON" in errors[1]["message"]
    assert errors[2]["field"] == "line"
    assert errors[3]["field"] == "request_id" and errors[3]["request_id"] is None
    assert errors[6]["message"] == "request_id 'r5' is also used on line 4; request_id values must be unique"
    assert errors[5]["field"] == "endpoint" and '"/v2/generate"' in errors[5]["message"]
    assert errors[7]["field"] == "payload"
    assert errors[8]["errorCode"] == "generation_input_duration_greater_than_max_duration"
    assert errors[8]["field"] == "payload.input[0].url"
    assert "(and 2 more)" in resp.json()["message"]


def test_item_62_input_duration_limit_is_configurable(make_emulator):
    emu = make_emulator({"syncso": {"batch_max_input_seconds": None}})
    long_video = {**VALID, "input": [{**VIDEO, "url": "https://e.x/v.mp4?duration=120"}, AUDIO]}
    assert post_batch(emu, jsonl(20, {0: long_video})).status_code == 200


def test_item_62_sdk_sees_the_line_errors(emulator, client):
    with pytest.raises(BadRequestError) as err:
        client.batch.create(input=("batch.jsonl", jsonl(20, {3: {**VALID, "model": "bogus-model"}})))
    assert err.value.body.message.startswith("1 of 20 lines are invalid: line 4: The requested model")


# -- plan and concurrency -----------------------------------------------------------------------

@pytest.mark.parametrize("plan", ["free", "creator", "growth"])
def test_item_63_plans_below_scale_get_402(make_emulator, plan):
    emu = make_emulator({"syncso": {"plan": plan}})
    with pytest.raises(PaymentRequiredError) as err:
        Sync(api_key="k", base_url=emu.url).batch.create(input=("batch.jsonl", jsonl(20)))
    assert err.value.status_code == 402
    body = post_batch(emu, jsonl(20)).json()
    assert body["errorCode"] == "plan_feature_unavailable" and "Scale and Enterprise" in body["message"]


@pytest.mark.parametrize("plan", ["scale", "enterprise"])
def test_item_63_scale_and_enterprise_may_batch(make_emulator, plan):
    emu = make_emulator({"syncso": {"plan": plan}})
    assert post_batch(emu, jsonl(20)).status_code == 200


def test_item_63_plan_list_is_configurable_to_2025_growth(make_emulator):
    emu = make_emulator({"syncso": {"plan": "growth", "batch_plans": ["growth", "scale", "enterprise"]}})
    assert post_batch(emu, jsonl(20)).status_code == 200


def test_item_64_batch_concurrency_limit_is_429(make_emulator):
    emu = make_emulator({"syncso": {"batch_concurrency": 1}})
    client = Sync(api_key="k", base_url=emu.url)
    first = client.batch.create(input=("batch.jsonl", jsonl(20)))
    with pytest.raises(TooManyRequestsError) as err:
        client.batch.create(input=("batch.jsonl", jsonl(20)))
    body = post_batch(emu, jsonl(20), headers={"x-api-key": "k"}).json()
    assert err.value.status_code == 429
    assert body["statusCode"] == 429 and body["errorCode"] == "concurrency_limit_reached"
    assert body["message"].startswith("Batch concurrency limit reached. Please wait for an existing batch")
    assert post_batch(emu, jsonl(20), dry_run="true", headers={"x-api-key": "k"}).status_code == 200
    assert post_batch(emu, jsonl(20), headers={"x-api-key": "other"}).status_code == 200  # per key
    emu.advance(40)
    assert client.batch.get(first.id).status == "COMPLETED"
    assert client.batch.create(input=("batch.jsonl", jsonl(20))).status == "PENDING"


def test_item_64_batch_generations_bypass_generation_concurrency(make_emulator):
    emu = make_emulator({"syncso": {"plan": "scale"}})  # 15 concurrent generations
    assert post_batch(emu, jsonl(20)).status_code == 200
    emu.advance(5)
    assert len(get(emu, "/v2/generations?status=PENDING").json()) == 20
    resp = requests.post(f"{emu.url}/v2/generate", json=VALID, headers=KEY, timeout=10)
    assert resp.status_code == 201


# -- lifecycle, result, list ---------------------------------------------------------------------

def test_item_65_lifecycle_metrics_and_real_generations(emulator, client):
    batch = client.batch.create(input=("batch.jsonl", jsonl(20)))
    emulator.advance(5)
    assert client.batch.get(batch.id).status == "JOBS_CREATED"
    generations = get(emulator, "/v2/generations").json()
    assert len(generations) == 20 and {g["status"] for g in generations} == {"PENDING"}
    emulator.advance(5)
    processing = client.batch.get(batch.id)
    assert processing.status == "PROCESSING" and processing.metrics.pending_count == 20
    emulator.advance(25)
    done = client.batch.get(batch.id)
    assert done.status == "COMPLETED"
    assert (done.metrics.total_generations, done.metrics.success_count, done.metrics.failed_count,
            done.metrics.pending_count) == (20, 20, 0, 0)
    assert done.output_url == f"{emulator.url}/v2/batches/{batch.id}/result"
    one = client.generations.get(generations[0]["id"])
    assert one.status == "COMPLETED" and one.output_url


def test_item_65_output_url_redirects_302_to_the_jsonl_result(emulator, client):
    batch = client.batch.create(input=("batch.jsonl", jsonl(20)))
    emulator.advance(40)
    url = client.batch.get(batch.id).output_url
    hop = requests.get(url, allow_redirects=False, timeout=10)  # no key: as the official example does
    assert hop.status_code == 302
    assert hop.headers["Location"].endswith(f"/{batch.id}.jsonl")
    result = requests.get(url, timeout=10)
    assert result.status_code == 200 and result.headers["Content-Type"].startswith("application/jsonl")
    rows = [json.loads(x) for x in result.text.splitlines()]
    assert [r["request_id"] for r in rows] == [f"req_{i:03d}" for i in range(20)]
    first = rows[0]["response"]
    assert first["status"] == "COMPLETED" and first["outputUrl"] and first["model"] == "lipsync-2"
    assert first == get(emulator, f"/v2/generate/{first['id']}").json()


def test_item_65_partial_failures_complete_all_failures_fail(emulator, client):
    failing = {**VALID, "input": [{**VIDEO, "url": "https://e.x/v.mp4?emulator_scenario=failed"}, AUDIO]}
    mixed = client.batch.create(input=("batch.jsonl", jsonl(20, {0: failing, 5: failing})))
    all_bad = client.batch.create(input=("batch.jsonl", jsonl(20, dict.fromkeys(range(20), failing))))
    emulator.advance(40)
    m = client.batch.get(mixed.id)
    assert m.status == "COMPLETED"
    assert (m.metrics.success_count, m.metrics.failed_count, m.metrics.pending_count) == (18, 2, 0)
    rows = [json.loads(x) for x in requests.get(m.output_url, timeout=10).text.splitlines()]
    assert rows[0]["response"]["status"] == "FAILED"
    assert rows[0]["response"]["error_code"] == "generation_pipeline_failed"
    b = client.batch.get(all_bad.id)
    assert b.status == "FAILED" and b.metrics.failed_count == 20 and b.output_url


def test_item_65_unknown_scenario_in_a_line_is_a_line_error(emulator):
    bad = {**VALID, "input": [{**VIDEO, "url": "https://e.x/v.mp4?emulator_scenario=nope"}, AUDIO]}
    resp = post_batch(emulator, jsonl(20, {2: bad}))
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["line"] == 3 and "unknown emulator scenario 'nope'" in resp.json()["message"]


def test_item_65_result_is_400_until_finished_and_404_for_unknown_batches(emulator, client):
    batch = client.batch.create(input=("batch.jsonl", jsonl(20)))
    early = requests.get(f"{emulator.url}/v2/batches/{batch.id}/result", timeout=10)
    assert early.status_code == 400 and "not completed" in early.json()["message"]
    unknown = requests.get(f"{emulator.url}/v2/batches/batch_nope/result", timeout=10)
    assert unknown.status_code == 404 and unknown.json()["statusCode"] == 404


def test_item_65_deleting_a_batch_generation_keeps_the_batch_result(emulator, client):
    batch = client.batch.create(input=("batch.jsonl", jsonl(20)))
    emulator.advance(40)
    gen_id = get(emulator, "/v2/generations").json()[0]["id"]
    assert requests.delete(f"{emulator.url}/v2/generate/{gen_id}", headers=KEY, timeout=10).status_code == 200
    assert client.batch.get(batch.id).metrics.success_count == 20
    assert gen_id in requests.get(client.batch.get(batch.id).output_url, timeout=10).text


def test_item_66_get_unknown_batch_is_404(emulator, client):
    with pytest.raises(NotFoundError):
        client.batch.get("batch_does_not_exist")
    other = post_batch(emulator, jsonl(20), headers={"x-api-key": "sk-other"}).json()["id"]
    assert get(emulator, f"/v2/batch/{other}").status_code == 404
    assert get(emulator, f"/v2/batch/{other}").json()["errorCode"] == "batch_not_found"


def test_item_66_list_newest_first_with_status_and_date_filters(emulator, client):
    first = client.batch.create(input=("batch.jsonl", jsonl(20)))
    emulator.advance(40)
    second = client.batch.create(input=("batch.jsonl", jsonl(20)))
    assert [b.id for b in client.batch.list()] == [second.id, first.id]
    assert [b.id for b in client.batch.list(status="PENDING")] == [second.id]
    assert [b.id for b in client.batch.list(status="COMPLETED")] == [first.id]
    between = datetime.fromtimestamp(emulator.control.now() - 20, tz=UTC)
    assert [b.id for b in client.batch.list(created_after=between)] == [second.id]
    assert [b.id for b in client.batch.list(created_before=between)] == [first.id]
    raw = get(emulator, "/v2/batch", params={"status": "PENDING", "created_after": "2024-01-01T00:00:00Z"})
    assert [b["id"] for b in raw.json()] == [second.id]
    assert client.batch.list(created_after=between + timedelta(days=1)) == []
    assert get(emulator, "/v2/batch", params={"status": "DONE"}).status_code == 400
    assert get(emulator, "/v2/batch", params={"created_after": "yesterday"}).status_code == 400
    assert requests.get(f"{emulator.url}/v2/batch", headers={"x-api-key": "sk-other"}, timeout=10).json() == []


def verify(secret: str, header: str, body: bytes) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def test_item_67_batch_webhook_on_completion_signed(emulator, client, webhook_receiver):
    batch = client.batch.create(input=("batch.jsonl", jsonl(20)), webhook_url=webhook_receiver.url)
    assert batch.webhook_url == webhook_receiver.url
    emulator.advance(10)
    assert webhook_receiver.received == []
    emulator.advance(30)
    hooks = webhook_receiver.wait_for(1)
    assert len(hooks) == 1
    body = hooks[0].json()
    assert body == get(emulator, f"/v2/batch/{batch.id}").json()
    assert body["status"] == "COMPLETED" and body["metrics"]["success_count"] == 20
    assert set(body) == {"id", "created_at", "status", "metrics", "outputUrl", "webhookUrl"}
    assert verify("whsec_emulator_syncso_dev", hooks[0].headers["Sync-Signature"], hooks[0].body)
    assert emulator.control.webhooks(job_id=batch.id)[0]["event"] == "batch.completed"


def test_item_67_header_and_key_casing_are_configurable(make_emulator, webhook_receiver):
    emu = make_emulator({"syncso": {"batch_webhook_keys": "camel",
                                    "batch_webhook_signature_header": "X-Signature-Primary"}})
    failing = {**VALID, "input": [{**VIDEO, "url": "https://e.x/v.mp4?emulator_scenario=failed"}, AUDIO]}
    resp = post_batch(emu, jsonl(20, dict.fromkeys(range(20), failing)), webhook_url=webhook_receiver.url)
    emu.advance(40)
    hook = webhook_receiver.wait_for(1)[0]
    body = hook.json()
    assert body["id"] == resp.json()["id"] and body["status"] == "FAILED"
    assert body["metrics"] == {"totalGenerations": 20, "successCount": 0, "failedCount": 20, "pendingCount": 0}
    assert body["outputUrl"].endswith(f"/v2/batches/{body['id']}/result")
    assert set(body) == {"id", "status", "metrics", "outputUrl", "webhookUrl", "createdAt", "options"}
    assert "Sync-Signature" not in hook.headers
    assert verify("whsec_emulator_syncso_dev", hook.headers["X-Signature-Primary"], hook.body)

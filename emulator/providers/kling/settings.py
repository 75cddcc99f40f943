"""Kling's settings: their types, defaults and evidence (sections and source keys of
shared/reference/kling.md). ``--set kling.KEY=VALUE``, the ``kling`` section of a config file or
``create_app``'s dict override them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, TypedDict

from lipsync_emulator.core.settings import Retry, default

TaskStatus = Literal["submitted", "processing", "succeed", "failed"]


class Durations(TypedDict):
    submitted: float
    processing: float


class AudioId(TypedDict, total=False):
    duration: float
    age_days: float


class ResourcePack(TypedDict):
    resource_pack_name: str
    resource_pack_id: str
    resource_pack_type: str
    total_quantity: float
    purchase_time: float | None
    effective_time: float | None
    invalid_time: float | None


class Deduction(TypedDict):
    units: str
    quota: str
    list_price: str


@dataclass(frozen=True)
class Settings:
    shared_keys: ClassVar[tuple[str, ...]] = ("api_keys", "relay_keys")  # --api-key restricts every way in
    # -- credentials (reference §2) --
    access_key: str = "kling_emulator_access_key"
    secret_key: str = "kling_emulator_secret_key_change_me"  # >= 32 bytes, as RFC 7518 asks of HS256 keys
    credentials: dict[str, str] = default({})  # more {access_key: secret_key} pairs; each its own account
    api_keys: list[str] = default(["kling_emulator_api_key"])  # static API keys [doc: S4], of access_key's account
    relay_keys: list[str] = default([])  # keys accepted on /kling/...; empty: any non-empty bearer key
    disabled_access_keys: list[str] = default([])  # correctly signed tokens of these answer 1000 [inferred]
    # Whose clock judges exp/nbf: "wall" (the client's clock, which agrees with a real server's,
    # so tokens made with time.time() stay current however far the virtual clock is advanced) or
    # "emulator" (the virtual clock: advancing it past exp expires a token, to test refreshing).
    jwt_clock: Literal["wall", "emulator"] = "wall"
    jwt_leeway_seconds: float = 0  # clock skew tolerated on exp/nbf [inferred, §11.10]
    jwt_required_claims: list[str] = default(["iss", "exp"])  # [inferred, §11.10]
    jwt_max_lifetime_seconds: float | None = None  # None: any exp accepted [inferred]
    # -- envelope (§3, §5) --
    success_message: str = "SUCCEED"  # [3p: S15, S28]; the official docs say "string"
    # table | always_200 (non-zero code with HTTP 200) [inferred, §11.9]
    error_http_status: Literal["table", "always_200"] = "table"
    # -- identify-face (§4.1) --
    session_ttl_seconds: float | None = 86400  # 24 h [doc: S8]; None: sessions never expire [inferred]
    # error (1201 "The model did not detect a human") | empty (face_data: []) [inferred]
    no_face: Literal["error", "empty"] = "error"
    unknown_video_id: Literal["reject", "accept"] = "reject"  # reject (1201) | accept (as a 10 s video) [inferred]
    legacy_identify_path: bool = True  # also answer /v1/videos/Identify-face [doc: S8] [inferred tolerance]
    # Emulator-only: sessions that exist for every account without an identify-face call and
    # never expire ({session_id: video_url}), so one request can create a task (the scenario
    # probes and contract suites use it). Not a Kling feature; null turns it off.
    fixture_sessions: dict[str, str] | None = default(
        {"emulator-fixture-session": "https://example.com/emulator-fixture.mp4"})
    identify_face_deduction: Deduction = default({"units": "0", "quota": "0", "list_price": "0"})  # [inferred, §11.17]
    # -- advanced-lip-sync (§4.2, §8) --
    # reject (1201) | ignore (only face_choose[0] is used) [inferred, §11.5]
    face_choose_extra: Literal["reject", "ignore"] = "reject"
    audio_formats: list[str] = default(["mp3", "wav", "m4a", "aac"])  # [doc: S1, S2]
    relay_audio_formats: list[str] = default(["mp3", "wav", "m4a"])  # [seed] (no .aac)
    # Kling TTS audio ids: {"id": {"duration": s, "age_days": d}} or {"id": duration}
    audio_ids: dict[str, AudioId | float] = default({})
    # accept (as default_audio_id_duration s) | reject (1201) [inferred]
    unknown_audio_id: Literal["accept", "reject"] = "accept"
    default_audio_id_duration: float = 10.0
    concurrency_limit: int | None = None  # resource-pack concurrency [doc: S6]; None: unlimited
    durations: Durations = default({"submitted": 5.0, "processing": 30.0})  # [inferred]
    units_per_5s: float = 1  # final_unit_deduction per started 5 s of output [inferred]
    # -- GET /account/costs (updates K1): the account's packs; remaining = total - units used.
    # Times are unix ms; None: the account's first look (purchase, effective) and a year later.
    resource_packs: list[ResourcePack] = default([{
        "resource_pack_name": "Emulator lip-sync pack", "resource_pack_id": "emulator-pack-1",
        "resource_pack_type": "decreasing_total", "total_quantity": 1000.0,
        "purchase_time": None, "effective_time": None, "invalid_time": None}])
    account_costs_qps: float | None = 1  # calls per second of the emulator's clock before 1302 [doc: QPS <= 1]; None: off
    unknown_task: Literal[1203, 1201] = 1203  # 1203 (HTTP 404) | 1201 (HTTP 400) [inferred, C36]
    result_ttl_days: float = 30  # result URLs stop resolving after this [doc: S1, S2]
    # -- callbacks (§7) --
    callback_states: list[TaskStatus] = default(["submitted", "processing", "succeed", "failed"])  # [doc: S5] [3p: S30]
    callback_balance_deduction: bool = False  # English page: no final_balance_deduction; True: the Chinese page's
    webhook_secret: str | None = None  # "whsec_..." : Standard Webhooks signature headers [doc: S5]
    webhook_previous_secret: str | None = None  # also signed with during the rotation grace period
    webhook_rotated_at: float | None = None  # unix seconds; None: the emulator's start
    webhook_rotation_grace_seconds: float = 7 * 86400  # [doc: S5]
    webhook_retry: Retry = default({"max_attempts": 1, "backoff": 5.0, "factor": 2.0, "max_delay": 3600.0})  # [inferred]
    # -- relay (§10) --
    # none | new-api ({"code":"success","data":{status,progress,data}}) [3p: S24]
    relay_query_wrapper: Literal["none", "new-api"] = "none"

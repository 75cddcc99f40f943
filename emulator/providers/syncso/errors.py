"""sync.so's error wire shape and its error-code catalogue.

Body: ``{"message", "statusCode", "error", "errorCode"}`` — ``message`` and ``statusCode``
always (syncsdk's ``GenerationError``), NestJS's ``error`` reason and the 2026 ``errorCode``
by default; ``error_body`` = ``nestjs`` | ``coded`` | ``both`` picks (the style is inferred,
reference §12.4). A key set to ``None`` in ``extra`` is left out (the bad-key 401 has no
``error``). 5xx bodies carry ``requestId`` [doc: errapi26].
"""

from __future__ import annotations

from typing import Any

from flask import Response
from lipsync_emulator.core.errors import EmulatorError
from lipsync_emulator.core.http import json_response
from lipsync_emulator.core.runtime import runtime

# Official messages [doc: docsv2 error-handling.mdx, err26]; the rest of the runtime catalogue
# [3p: unmodel] has no published message, so those texts are the emulator's own (inferred).
MESSAGES: dict[str, str] = {
    "generation_unsupported_model": "The requested model is not supported for this operation.",
    "generation_media_metadata_missing": "Required media metadata is missing from the request.",
    "generation_audio_length_exceeded": "The provided audio exceeds the maximum allowed length.",
    "generation_audio_missing": "No audio file was provided in the request.",
    "generation_video_missing": "No video file was provided in the request.",
    "generation_timeout": "The generation process exceeded the maximum allowed time.",
    "generation_pipeline_failed": "An error occurred in the generation pipeline.",
    "generation_database_error": "An error occurred while accessing the database.",
    "generation_internal_auth": "Authentication failed for internal generation service.",
    "generation_unhandled_error": "An unexpected error occurred during the generation process.",
    "generation_text_length_exceeded": "Text must be less than 5000 characters in one generation.",
    "generation_input_validation_failed": "Failed to validate input.",
}

CATALOG: tuple[str, ...] = (
    "generation_unsupported_model", "generation_pipeline_failed", "generation_unknown_error",
    "generation_input_validation_failed", "generation_infra_storage_error", "generation_infra_resource_exhausted",
    "generation_infra_service_unavailable", "generation_input_video_inaccessible",
    "generation_input_audio_inaccessible", "generation_input_image_inaccessible", "generation_input_video_invalid",
    "generation_input_audio_invalid", "generation_input_segments_invalid", "generation_input_trim_invalid",
    "generation_input_face_selection_invalid", "generation_input_resolution_unsupported",
    "generation_input_duration_greater_than_max_duration", "generation_model_duration_exceeded",
    "generation_plan_duration_exceeded", "dubbing_duration_exceeded", "free_tier_generations_exhausted",
    "plan_feature_unavailable", "account_payment_required", "account_on_hold", "voice_clone_limit_reached",
    "elevenlabs_quota_exceeded", "generation_input_asset_type_mismatch", "generation_input_too_many_visual",
    "generation_input_dub_audio_conflict", "concurrency_limit_reached", "rate_limit_exceeded",
    "generation_not_deletable_while_processing", "invalid_generation_id", "unsupported_generation_id_format",
    "generation_not_found", "generation_conflict", "generation_media_probe_timeout",
    "generation_media_probe_unavailable", "controller_timeout", "controller_unavailable",
    "controller_dependency_error", "internal_error", "project_not_found", "asset_not_found", "asset_forbidden",
    "invalid_asset_id_format", "uploaded_file_not_found", "file_not_in_org_storage",
    "file_size_exceeds_plan_limit", "voice_not_found", "voice_sample_not_accessible",
    "voice_sample_type_unsupported", "voice_sample_upload_required", "voice_sample_extraction_failed",
    "voice_sample_source_too_large", "voice_sample_too_short", "voice_sample_invalid", "voice_name_conflict",
    "voice_clone_busy", "elevenlabs_api_key_invalid", "elevenlabs_service_unavailable",
    "usage_dependency_unavailable",
)


def message_for(code: str) -> str:
    return MESSAGES.get(code) or code.replace("_", " ").capitalize() + "."


def catalog() -> list[dict[str, str]]:
    """The runtime catalogue [3p: unmodel] plus the officially documented codes it lacks."""
    codes = CATALOG + tuple(code for code in MESSAGES if code not in CATALOG)
    return [{"code": code, "message": message_for(code),
             "suggestion": "See https://sync.so/docs/developer-guides/error-handling"} for code in codes]


def render_error(err: EmulatorError) -> Response:
    style = runtime().cfg("syncso").get("error_body", "both")
    body: dict[str, Any] = {"message": err.message, "statusCode": err.status}
    if style in ("both", "nestjs"):
        body["error"] = err.reason
    if style in ("both", "coded") and err.code is not None:
        body["errorCode"] = err.code
    if err.status >= 500:
        body.setdefault("errorCode", err.code or "internal_error")
        body["requestId"] = runtime().ids.uuid()
    body.update(err.extra)
    return json_response({k: v for k, v in body.items() if v is not None}, err.status)

"""Hypothesis strategies for lipsync.studio submits (shared/reference/lipsyncstudio.md §3).

A request is ``{"endpoint": <endpoint>, "formState": {...}}``: it is sent as
``POST /api/v1/{endpoint}`` with ``{"formState": ...}`` (plus the client's ``webhook``). The
``formState`` of each endpoint comes from ``schemas/lipsyncstudio.yaml`` (required media URLs,
the ``resolution`` enum, an integer ``seed``, ``order`` for the multi endpoint); media URLs
are realistic. The one rule outside the schema: the webhook must be HTTPS (http:// only for
loopback receivers, the emulator's default reading of §12.14).

    from lipsync_emulator.contracts import strategies as st
    st.lipsyncstudio.form_states("lipsync-image")
    st.lipsyncstudio.create_requests()
    st.lipsyncstudio.invalid_requests("webhook_https")
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from lipsync_emulator import schemas
from lipsync_emulator.contracts.strategies._schema import Break, SchemaStrategies
from lipsync_emulator.contracts.strategies.base import ExpectedError, Invalid

FORMS = {"lipsync-video": "LipsyncVideoForm", "lipsync-image": "LipsyncImageForm",
         "lipsync-image-multi": "LipsyncImageMultiForm"}
REQUESTS = {"lipsync-video": "LipsyncVideoRequest", "lipsync-image": "LipsyncImageRequest",
            "lipsync-image-multi": "LipsyncImageMultiRequest"}
OPERATIONS = {"lipsync-video": "createLipsyncVideo", "lipsync-image": "createLipsyncImage",
              "lipsync-image-multi": "createLipsyncImageMulti"}
ENDPOINTS = tuple(FORMS)

_VIDEO = st.sampled_from(("https://cdn.example.com/talk.mp4", "https://cdn.example.com/clip.mov"))
_AUDIO = st.sampled_from(("https://cdn.example.com/voice.mp3", "https://cdn.example.com/speech.wav"))
_IMAGE = st.sampled_from(("https://cdn.example.com/face.png", "https://cdn.example.com/portrait.jpg"))
_MASK = st.just("https://cdn.example.com/mask.png")
_overrides: dict[str, st.SearchStrategy[Any]] = {}
for _form in FORMS.values():
    _overrides.update({f"{_form}.video": _VIDEO, f"{_form}.audio": _AUDIO, f"{_form}.image": _IMAGE,
                       f"{_form}.left_audio": _AUDIO, f"{_form}.right_audio": _AUDIO,
                       f"{_form}.mask_image": _MASK})
SCHEMA = SchemaStrategies(schemas.load("lipsyncstudio"), overrides=_overrides)
FACTS = schemas.rules("lipsyncstudio")  # each cross-field rule's error, as the schema declares it


def form_states(endpoint: str = "lipsync-video") -> st.SearchStrategy[dict[str, Any]]:
    """A valid ``formState`` for ``endpoint`` (from the schema, with realistic URLs)."""
    return SCHEMA.strategy(FORMS[endpoint])


@st.composite
def create_requests(draw: st.DrawFn, endpoint: str | None = None) -> dict[str, Any]:
    """``{"endpoint", "formState"}`` for one of the three endpoints (or ``endpoint``)."""
    chosen = endpoint or draw(st.sampled_from(ENDPOINTS))
    return {"endpoint": chosen, "formState": draw(form_states(chosen))}


def minimal_request() -> dict[str, Any]:
    return {"endpoint": "lipsync-video", "formState": {"video": "https://cdn.example.com/talk.mp4",
                                                       "audio": "https://cdn.example.com/voice.mp3"}}


def feature_examples() -> list[dict[str, Any]]:
    """One small request per endpoint, with the optional fields a client must not drop."""
    return [
        minimal_request(),
        {"endpoint": "lipsync-image", "formState": {"image": "https://cdn.example.com/face.png",
                                                    "audio": "https://cdn.example.com/voice.mp3",
                                                    "resolution": "720p", "seed": 42}},
        {"endpoint": "lipsync-image-multi", "formState": {"image": "https://cdn.example.com/face.png",
                                                          "left_audio": "https://cdn.example.com/voice.mp3",
                                                          "right_audio": "https://cdn.example.com/speech.wav",
                                                          "order": "left_right"}},
        {"endpoint": "lipsync-video", "formState": {"video": "https://cdn.example.com/talk.mp4",
                                                    "audio": "https://cdn.example.com/voice.mp3",
                                                    "mask_image": "https://cdn.example.com/mask.png",
                                                    "prompt": "calm", "resolution": "480p"}},
    ]


# -- invalid requests ----------------------------------------------------------------------------

def schema_error(brk: Break) -> ExpectedError:
    """A 400 ``{"error": "<field> ..."}`` naming the field without its ``formState.`` prefix
    (inferred, §12.7–12.12); lipsync.studio has no error codes."""
    field = brk.field.removeprefix("formState.") if brk.field else "formState"
    return ExpectedError(400, None, field)


def _invalid(brk: Break, request: dict[str, Any]) -> Invalid:
    endpoint = request["endpoint"]
    broken = brk.apply({"formState": request["formState"]})
    if "formState" not in broken:
        return Invalid(brk.rule, {"endpoint": endpoint}, ExpectedError(400, None, "formState is required"),
                       field="formState", operation=OPERATIONS[endpoint])
    return Invalid(brk.rule, {"endpoint": endpoint, **broken}, schema_error(brk), field=brk.field,
                   operation=OPERATIONS[endpoint])


def schema_breaks(request: dict[str, Any]) -> list[Invalid]:
    body = {"formState": request["formState"]}
    return [_invalid(b, request) for b in SCHEMA.breaks(REQUESTS[request["endpoint"]], body)]


@st.composite
def _schema_rule(draw: st.DrawFn) -> Invalid:
    request = draw(create_requests())
    body = {"formState": request["formState"]}
    return _invalid(draw(SCHEMA.one_break(REQUESTS[request["endpoint"]], body)), request)


@st.composite
def _webhook_https(draw: st.DrawFn) -> Invalid:
    """The docs ask for an HTTPS webhook [seed]; the emulator refuses plain http to a public host."""
    request = draw(create_requests())
    request["webhook"] = draw(st.sampled_from(("http://hooks.example.com/lipsync", "http://app.example.org/cb")))
    fact = FACTS["webhook_https"]
    return Invalid(fact.id, request, ExpectedError(fact.status, fact.code, fact.message), field="webhook",
                   operation=OPERATIONS[request["endpoint"]])


_BUILDERS = {"webhook_https": _webhook_https}
RULES: tuple[str, ...] = tuple(_BUILDERS)


def rule_ids() -> tuple[str, ...]:
    return RULES


def client_rule_ids() -> tuple[str, ...]:
    """Rules a client's request can break: the webhook URL is the client's own configuration,
    not part of what it is asked to send, so ``webhook_https`` is left to the self-contract."""
    return ()


def invalid_requests(rule: str | None = None) -> st.SearchStrategy[Invalid]:
    if rule == "schema":
        return _schema_rule()
    if rule is not None:
        if rule not in _BUILDERS:
            raise KeyError(f"no lipsync.studio rule {rule!r} (have: schema, {', '.join(RULES)})")
        return _BUILDERS[rule]()
    return st.one_of([b() for b in _BUILDERS.values()] + [_schema_rule()])

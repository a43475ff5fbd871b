"""Property-based HTTP fuzzing of `ovc serve` on loopback (issue 10, beyond the findings):
methods, paths, headers and bodies drawn by hypothesis against a real server process.

Whatever arrives: never a 5xx; every webhook body within the limit is stored exactly once
(one row per acknowledged event id, with the bytes sent, the token aside); the token is never
stored, in the table or the raw store; and the receiver still lands a valid alert afterwards.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovc_assets.receiver.intake import MAX_BODY_BYTES
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.receiver.receiver_payloads import ALERT_EXPORT, TOKEN, unique_export
from ovc_assets_tests.receiver.test_receiver_reliability import serving

EXAMPLES = 200
WEBHOOK_PATHS = ("/tv", "/tv_secure")

printable_ascii = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
paths = st.one_of(
    st.sampled_from(WEBHOOK_PATHS),  # half of the requests reach a webhook route
    st.one_of(
        st.sampled_from(["/", "/healthz", f"/tv_secure/{TOKEN}", "/tv/", "/TV", "//tv"]),
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="?#%"), max_size=40).map(
            lambda text: "/" + text
        ),
    ),
)
methods = st.one_of(st.just("POST"), st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]))
content_types = st.one_of(
    st.none(),
    st.sampled_from([
        "text/plain", "application/json", "application/json; charset=utf-8", "text/plain; charset=latin-1",
        "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/vnd.api+json",
    ]),
    st.text(printable_ascii, max_size=60).map(str.strip),  # a client sends no edge blanks
)
headers = st.dictionaries(
    st.sampled_from(["x-forwarded-for", "x-request-id", "accept", "user-agent", "expect", "x-token", "cookie"]),
    st.text(printable_ascii, max_size=80).map(str.strip),
    max_size=4,
)


def escaped(text: str) -> str:
    return "".join(f"\\u{ord(character):04x}" for character in text)


def carries_a_credential(body: bytes) -> bool:
    """Whether the receiver had something to redact: a token field or the secret itself."""
    return any(marker in body for marker in (b'"token"', b"t\\u006fken", TOKEN.encode(), escaped(TOKEN).encode()))


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


json_fragments = st.one_of(
    st.just(json.dumps(TOKEN)),
    st.just(f'"{escaped(TOKEN)}"'),
    st.just(json.dumps(ALERT_EXPORT)),
    st.integers(0, 3000).map(nested),
    st.text(max_size=50).map(json.dumps),
)
envelopes = st.builds(
    lambda token, export, extra, prefix, suffix: (
        prefix + '{"schema": "OVC_MIN_V01", "token": ' + token + ', "export": ' + export + ', "x": ' + extra + "}" + suffix
    ).encode("utf-8", "surrogatepass"),
    token=json_fragments,
    export=json_fragments,
    extra=json_fragments,
    prefix=st.sampled_from(["", "\ufeff", " ", "[", '{"t\\u006fken": "' + TOKEN + '", "a": ']),
    suffix=st.sampled_from(["", "}", " trailing", "\n", '"']),
)
bodies = st.one_of(
    st.binary(max_size=2048),
    st.text(max_size=512).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.integers(0, 10_000).map(lambda n: unique_export(n).encode()),
    st.sampled_from([999, 1001, 5000]).map(lambda depth: ('{"token": "%s", "x": %s}' % (TOKEN, nested(depth))).encode()),
    envelopes,
    envelopes.map(lambda body: body.replace(b'"export"', b'"\xff\xfe": 1, "export"')),
    st.integers(MAX_BODY_BYTES - 2, MAX_BODY_BYTES + 2).map(lambda size: (TOKEN * (size // len(TOKEN) + 1)).encode()[:size]),
)


def test_fuzzed_requests_never_get_a_5xx_and_every_body_is_stored_once_without_the_token(
    ovc_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    raw_root = Path(ovc_env["OVC_HOME"]) / "raw"
    acknowledged: dict[str, set[bytes]] = {}
    oversized_sent = 0
    env = {**os.environ, **ovc_env, "OVC_TOKEN": TOKEN}
    with serving(env, tmp_path / "serve.log") as (_, url), httpx.Client(base_url=url, timeout=10) as client:

        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(method=methods, path=paths, content_type=content_types, extra_headers=headers, body=bodies)
        def one_request(method: str, path: str, content_type: str | None, extra_headers: dict[str, str], body: bytes) -> None:
            nonlocal oversized_sent
            sent = dict(extra_headers) | ({"content-type": content_type} if content_type is not None else {})
            response = client.request(method, path, content=body, headers=sent)
            assert response.status_code < 500, (method, path, response.status_code, response.text[:300])
            if method == "POST" and path in WEBHOOK_PATHS and len(body) <= MAX_BODY_BYTES:
                answer = response.json()
                assert "event_id" in answer, answer
                acknowledged.setdefault(answer["event_id"], set()).add(body)
            elif method == "POST" and path in WEBHOOK_PATHS:
                assert response.status_code == 413, (path, response.status_code)
                oversized_sent += 1

        one_request()
        valid = client.post("/tv", content=unique_export(10_001))
    assert valid.status_code == 200 and valid.json()["ok"] is True

    with connect(database_url) as conn:
        rows = conn.execute("SELECT event_id, body, body_size FROM ovc.raw_events").fetchall()
    stored = {str(event_id): bytes(body) for event_id, body, _ in rows}
    assert len(stored) == len(rows)  # one row per event id
    expected = set(acknowledged) | {valid.json()["event_id"]}
    assert expected <= set(stored)  # every acknowledged body, once
    # Beyond those, only the refused oversize bodies (413, stored cut to the limit; the same
    # first 64 KiB sent again is the same event).
    oversized_stored = {str(event_id) for event_id, _, size in rows if size > MAX_BODY_BYTES}
    assert set(stored) - expected <= oversized_stored
    assert len(oversized_stored) <= oversized_sent
    for event_id, sent_bodies in acknowledged.items():
        assert any(stored[event_id] == body or (carries_a_credential(body) and b"***" in stored[event_id])
                   for body in sent_bodies), event_id
    raw_objects = [path.read_bytes() for path in (raw_root / "tv").rglob("*.txt")] if (raw_root / "tv").is_dir() else []
    for content in [*stored.values(), *raw_objects]:
        assert TOKEN.encode() not in content and escaped(TOKEN).encode() not in content

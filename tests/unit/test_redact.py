"""What ``gameday.redact`` hides and what it leaves alone (DESIGN.md "Safety" 6)."""

from __future__ import annotations

import pytest

from gameday.redact import (
    REDACTED,
    Redactor,
    current_redactor,
    environment_secrets,
    remember_secret,
    resolve_references,
    secret_name,
    unset_references,
)

R = REDACTED

REDACTED_TEXT = [
    # query parameters
    ("GET https://api/x?access_token=abc123&page=2", f"GET https://api/x?access_token={R}&page=2"),
    (
        "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240101%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20240101T000000Z&X-Amz-Signature=deadbeef&X-Amz-Security-Token=FQoGZ",
        "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential={R}&X-Amz-Date=20240101T000000Z&X-Amz-Signature={R}"
        f"&X-Amz-Security-Token={R}",
    ),
    ("https://h/?api_key=k1&apikey=k2&sig=s3", f"https://h/?api_key={R}&apikey={R}&sig={R}"),
    ("https://h/?client_secret=x&session_id=y", f"https://h/?client_secret={R}&session_id={R}"),
    # headers, as curl -v prints them and as JSON
    (
        "> GET / HTTP/1.1\n> Authorization: Bearer eyJhbGciOi.J9.x1\n> Host: h",
        f"> GET / HTTP/1.1\n> Authorization: Bearer {R}\n> Host: h",
    ),
    (
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/2024, Signature=ab",
        f"Authorization: AWS4-HMAC-SHA256 {R}",
    ),
    ("Cookie: a=b; session=xyz", f"Cookie: {R}"),
    ("X-Api-Key: abc123 rest", f"X-Api-Key: {R} rest"),
    ("X-Auth-Token: abc", f"X-Auth-Token: {R}"),
    ('{"password": "hunter2", "user": "bob"}', f'{{"password": "{R}", "user": "bob"}}'),
    ("password: hunter2", f"password: {R}"),
    ("client_secret: abc", f"client_secret: {R}"),
    ("DB_PASSWD=pw1 DB_USER=me", f"DB_PASSWD={R} DB_USER=me"),
    # bearer tokens anywhere, AWS access key ids
    ("curl said: bearer 0a1b2c3d4e5f", f"curl said: bearer {R}"),
    ("id AKIAIOSFODNN7EXAMPLE and ASIAIOSFODNN7EXAMPLE", f"id {R} and {R}"),
    ("https://bob:pa55@h/x and redis://:pw@r:6379", f"https://bob:{R}@h/x and redis://:{R}@r:6379"),
    # command lines
    ("curl --token abcdef123 --password=hunter2 -u x", f"curl --token {R} --password={R} -u x"),
    ("tool -api-key k", f"tool -api-key {R}"),
]

KEPT_TEXT = [
    # the gateway's own fault messages name tokens without holding one
    "ExpiredToken: The security token included in the request is expired",
    "expired-token fault on sts, iam",
    # gameday's own messages about tokens
    "missing or wrong bearer token (--marks-token)",
    "POST http://127.0.0.1:8765/marks (bearer token)",
    # not credentials: an S3 object key, a DynamoDB key, authors, metric names
    "key=orders/1.json",
    "partition_key=id",
    "author: alice",
    "XAUTHORITY=/home/a/.Xauthority",
    "gameday_probe_tokens_total 3",
    "session: 3 marks",
    # a reference is stored as written: it is what a scenario keeps instead of a value
    "Authorization: Bearer ${PAGER_TOKEN}",
    "https://h/?access_token=${API_TOKEN}",
    "status 503, expected 200",
    "http://127.0.0.1:8080/path@v2 and http://h:80",
    # options about authentication, not holding it: the hint a refusal prints
    "or add --allow-unauthenticated if that is really meant",
    "run with --authenticate first",
]


@pytest.mark.parametrize(("text", "expected"), REDACTED_TEXT)
def test_credentials_in_text_are_redacted(text: str, expected: str) -> None:
    assert Redactor().text(text) == expected


@pytest.mark.parametrize("text", KEPT_TEXT)
def test_what_only_mentions_credentials_is_kept(text: str) -> None:
    assert Redactor().text(text) == text


@pytest.mark.parametrize(("text", "expected"), REDACTED_TEXT)
def test_redacting_twice_changes_nothing_more(text: str, expected: str) -> None:
    assert Redactor().text(expected) == expected


def test_known_secrets_are_redacted_wherever_they_appear_also_url_encoded() -> None:
    redactor = Redactor(frozenset({"s3cr3t/value+1", "s3cr3t"}))

    assert redactor.text("echo s3cr3t/value+1; url ?q=s3cr3t%2Fvalue%2B1; s3cr3t") == (
        f"echo {R}; url ?q={R}; {R}"
    )


def test_argv_hides_the_word_after_a_credential_option() -> None:
    words = ["curl", "--token", "abc", "-H", "Authorization: Bearer ${X}", "--api-key=k", "-v"]

    assert Redactor().argv(words) == [
        "curl",
        "--token",
        R,
        "-H",
        "Authorization: Bearer ${X}",
        f"--api-key={R}",
        "-v",
    ]
    assert Redactor().argv(["aws", "--session-token", "--debug"]) == [
        "aws",
        "--session-token",
        "--debug",
    ]


def test_data_redacts_headers_credential_keys_and_argv_lists() -> None:
    spec = {
        "probes": [
            {
                "url": "https://h/?access_token=abc",
                "headers": {
                    "Authorization": "Bearer ${PAGER_TOKEN}",
                    "X-Custom": "literal-value",
                    "Content-Type": "application/json",
                },
                "command": ["tool", "--password", "pw"],
                "params": {"Password": "hunter2", "credentials": "runner", "Key": "id-1"},
                "interval": 1.0,
            }
        ]
    }

    assert Redactor().data(spec) == {
        "probes": [
            {
                "url": f"https://h/?access_token={R}",
                "headers": {
                    "Authorization": "Bearer ${PAGER_TOKEN}",
                    "X-Custom": R,
                    "Content-Type": "application/json",
                },
                "command": ["tool", "--password", R],
                "params": {"Password": R, "credentials": "runner", "Key": "id-1"},
                "interval": 1.0,
            }
        ]
    }


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("AWS_SECRET_ACCESS_KEY", True),
        ("AWS_ACCESS_KEY_ID", True),
        ("AWS_SESSION_TOKEN", True),
        ("GAMEDAY_GATEWAY_TOKEN", True),
        ("X-Amz-Signature", True),
        ("Proxy-Authorization", True),
        ("--password", True),
        ("--auth-token", True),
        ("--auth", True),
        ("PGAUTHENTICATION_TOKEN", True),
        ("--allow-unauthenticated", False),
        ("authenticated", False),
        ("author", False),
        ("key", False),
        ("hash_key", False),
        ("monkey", False),
        ("AWS_REGION", False),
        ("PWD", False),  # the working directory, in every environment
        ("OLDPWD", False),
    ],
)
def test_which_names_hold_credentials(name: str, secret: bool) -> None:
    assert secret_name(name) is secret


def test_environment_secrets_are_credential_named_values_long_enough() -> None:
    environ = {
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI",
        "GAMEDAY_GATEWAY_TOKEN": "gw-token-1234",
        "XDG_SESSION_ID": "2",
        "AWS_SHARED_CREDENTIALS_FILE": "/home/a/.aws/credentials",
        "HOME": "/home/a/secret-place",
    }

    assert environment_secrets(environ) == {"wJalrXUtnFEMI", "gw-token-1234"}
    assert current_redactor(environ).text("echo wJalrXUtnFEMI gw-token-1234 2") == (
        f"echo {R} {R} 2"
    )


def test_remembered_secrets_join_the_current_redactor() -> None:
    remember_secret("remembered-value-7")
    remember_secret("abc")  # too short to look for: it would redact common words

    redactor = current_redactor({})
    assert redactor.text("x remembered-value-7 abc") == f"x {R} abc"


def test_references_resolve_from_the_environment_and_name_what_is_unset() -> None:
    environ = {"PAGER_TOKEN": "t-1", "EMPTY": ""}

    assert resolve_references("Bearer ${PAGER_TOKEN}", environ) == "Bearer t-1"
    with pytest.raises(KeyError, match="MISSING"):
        resolve_references("${MISSING}", environ)
    assert unset_references(["${PAGER_TOKEN} ${MISSING}", "${EMPTY}", "${MISSING}"], environ) == [
        "MISSING",
        "EMPTY",
    ]


def test_the_recorder_redacts_events_and_failed_samples_before_anyone_sees_them() -> None:
    from gameday.grading.timeline import Sample
    from gameday.recorder import Recorder

    heard: list[str] = []
    recorder = Recorder(
        clock=lambda: 0.0, origin=0.0, listeners=[lambda _r, _k, detail: heard.append(detail)]
    )

    recorder.event("error", "GET https://h/?access_token=abc failed")
    recorder.sample("p", Sample(0.0, False, 0.1, detail="exit 1: Bearer 0a1b2c3d4e5f"))
    recorder.sample("p", Sample(0.1, True, 0.1, detail="200"))

    assert heard == [f"GET https://h/?access_token={R} failed"]
    assert recorder.events == [(0.0, "error", f"GET https://h/?access_token={R} failed")]
    assert [s.detail for s in recorder.samples["p"]] == [f"exit 1: Bearer {R}", "200"]

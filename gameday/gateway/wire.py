"""Protocol-correct AWS error responses: what an injected fault sends back.

An error is right only when the SDK reads it as that code and applies its own retry rules to
it (DESIGN.md "Fault kinds"), so the body follows the protocol of the *incoming* request, not
a fixed protocol per service (CloudWatch is json for botocore, query for older SDKs).

>>> status, code = error_for_mode(Mode.THROTTLE, info)
>>> response = render_error(info, status, code, "Rate exceeded", method=request.method)
"""

from __future__ import annotations

import base64
import json
import os
import re
import uuid
from dataclasses import dataclass
from xml.sax.saxutils import escape

import cbor2

from gameday.faults.modes import ERROR_MODES, Mode
from gameday.gateway import _models
from gameday.gateway.classify import Protocol, RequestInfo


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """An HTTP response, ready to send: ``headers`` already hold Content-Type/-Length."""

    status: int
    headers: dict[str, str]
    body: bytes


_CODE = re.compile(r"[A-Za-z][A-Za-z0-9._:-]{0,127}")
_REQUEST_ID = re.compile(r"[A-Za-z0-9+/=._-]{1,128}")
# Characters XML 1.0 forbids even escaped; botocore's parser would fail on them.
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_JSON_STYLE = frozenset({Protocol.JSON, Protocol.REST_JSON, Protocol.RPC_V2_CBOR})
_PROVISIONED_THROUGHPUT = frozenset({"dynamodb", "kinesis"})
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


def error_for_mode(mode: Mode, info: RequestInfo) -> tuple[int, str]:
    """The (HTTP status, error code) a fault of ``mode`` answers this request with.

    Raises ValueError for modes that send no error (latency, blackhole, reset).

    Every throttle and unavailable code here is retried by botocore's legacy, standard and
    adaptive modes (botocore/data/_retry.json, botocore/retries/standard.py), and denied and
    expired-token are retried by none of them.
    """
    if mode not in ERROR_MODES:
        raise ValueError(f"mode {mode.value!r} is not answered with an AWS error response")
    if info.protocol is Protocol.REGISTRY:
        return _REGISTRY_ERRORS[mode]
    is_s3 = _is_s3(info)
    is_ec2 = info.protocol is Protocol.EC2
    # Query-compatible json/cbor services (CloudWatch, SQS) surface the query error code from
    # x-amzn-query-error (botocore/parsers.py _do_query_compatible_error_parse), so they get
    # the query protocol's codes.
    json_codes = info.protocol in _JSON_STYLE and not info.query_mode
    if mode is Mode.THROTTLE:
        if is_s3:
            return 503, "SlowDown"
        if info.service in _PROVISIONED_THROUGHPUT:
            # _retry.json "throughput_exceeded": retried only with status 400 in legacy mode.
            return 400, "ProvisionedThroughputExceededException"
        if is_ec2:
            return 503, "RequestLimitExceeded"  # _retry.json "ec2" "request_limit_exceeded"
        # _retry.json "throttling_exception" / "throttling": both need status 400 in legacy.
        return 400, "ThrottlingException" if json_codes else "Throttling"
    if mode is Mode.UNAVAILABLE:
        # 503 alone is retried everywhere (_retry.json "service_unavailable", standard.py
        # _TRANSIENT_STATUS_CODES); the code is the one the service models, so SDKs raise
        # their typed exception (CloudWatch Logs and Firehose model ServiceUnavailableException).
        if (
            json_codes
            and info.service is not None
            and "ServiceUnavailableException" in _models.error_codes(info.service)
        ):
            return 503, "ServiceUnavailableException"
        return 503, "ServiceUnavailable"
    if mode is Mode.INTERNAL:
        return 500, "InternalError" if is_s3 or is_ec2 else "InternalFailure"
    if mode is Mode.DENIED:
        return 403, "AccessDeniedException" if json_codes else "AccessDenied"
    return 400, "ExpiredTokenException" if json_codes else "ExpiredToken"


_REGISTRY_ERRORS: dict[Mode, tuple[int, str]] = {
    # The distribution spec's error codes (spec.md "Error Codes"); docker and containerd
    # retry 429 and 5xx pulls and fail fast on 401/403.
    Mode.UNAVAILABLE: (503, "UNAVAILABLE"),
    Mode.THROTTLE: (429, "TOOMANYREQUESTS"),
    Mode.INTERNAL: (500, "UNKNOWN"),
    Mode.DENIED: (403, "DENIED"),
    Mode.EXPIRED_TOKEN: (401, "UNAUTHORIZED"),
}


def _registry_json(code: str, message: str, method: str) -> bytes:
    if method.upper() == "HEAD":
        return b""
    return json.dumps({"errors": [{"code": code, "message": message, "detail": None}]}).encode()


def render_error(
    info: RequestInfo,
    status: int,
    code: str,
    message: str,
    *,
    method: str = "POST",
    request_id: str | None = None,
) -> ErrorResponse:
    """The error response for this request's protocol, with a body the SDKs parse.

    A HEAD response has no body (HTTP forbids one); botocore then takes the code from the
    status (botocore/parsers.py RestXMLParser._parse_error_from_http_status).
    Raises ValueError for a status outside 400..599 or a code or request id that is not a
    plain token (they go into headers). Keep ``:`` out of codes: botocore's json parsers cut a
    code at the first colon (``Code:http://...`` is how AWS appends a URI to it).
    """
    if not 400 <= status <= 599:
        raise ValueError(f"an error response needs a 4xx or 5xx status, not {status}")
    if not _CODE.fullmatch(code):
        raise ValueError(f"error code {code!r} is not a plain token like 'ThrottlingException'")
    is_s3 = _is_s3(info)
    if request_id is None:
        # S3's request ids are 16 upper-case hex characters; the others are UUIDs.
        request_id = uuid.uuid4().hex[:16].upper() if is_s3 else str(uuid.uuid4())
    elif not _REQUEST_ID.fullmatch(request_id):
        raise ValueError(f"request id {request_id!r} is not a plain token")
    message = message.encode("utf-8", "replace").decode("utf-8")  # no lone surrogates
    fault = "Receiver" if status >= 500 else "Sender"
    headers: dict[str, str] = {"x-amzn-RequestId": request_id}
    protocol = info.protocol
    if protocol is Protocol.REGISTRY:
        content_type, body = "application/json", _registry_json(code, message, method)
    elif protocol in _JSON_STYLE:
        content_type, body = _json_style(info, code, message, fault, headers)
    elif protocol is Protocol.EC2:
        content_type, body = "text/xml;charset=UTF-8", _ec2_xml(code, message, request_id)
    elif is_s3:
        content_type, body = "application/xml", _s3_xml(code, message, request_id, headers)
    else:
        # query, rest-xml other than S3 (route53, cloudfront), and unclassified requests:
        # the <ErrorResponse> form every XML parser in botocore reads.
        namespace = _xml_namespace(info) if protocol is Protocol.QUERY else None
        content_type = "text/xml"
        body = _error_response_xml(code, message, fault, request_id, namespace)
    if method.upper() == "HEAD":
        body = b""
    headers["Content-Type"] = content_type
    headers["Content-Length"] = str(len(body))
    return ErrorResponse(status=status, headers=headers, body=body)


def _is_s3(info: RequestInfo) -> bool:
    if info.service is not None:
        return info.service == "s3"
    return info.signing_name == "s3" and info.protocol is Protocol.REST_XML


def _json_style(
    info: RequestInfo, code: str, message: str, fault: str, headers: dict[str, str]
) -> tuple[str, bytes]:
    if info.query_mode:
        # botocore/parsers.py: "x-amzn-query-error: Code;Sender" replaces __type's code.
        headers["x-amzn-query-error"] = f"{code};{fault}"
    if info.protocol is Protocol.RPC_V2_CBOR:
        # botocore/parsers.py RpcV2CBORParser reads __type and message from a CBOR map.
        headers["smithy-protocol"] = "rpc-v2-cbor"
        return "application/cbor", cbor2.dumps({"__type": code, "message": message})
    headers["x-amzn-ErrorType"] = code
    if info.protocol is Protocol.REST_JSON:
        # RestJSONParser takes the code from x-amzn-ErrorType, else the body's "code".
        return "application/json", json.dumps({"code": code, "message": message}).encode()
    version = info.json_version or "1.0"
    return f"application/x-amz-json-{version}", json.dumps(
        {"__type": code, "message": message}
    ).encode()


def _xml_text(text: str) -> str:
    return escape(_XML_INVALID.sub("\ufffd", text))


def _error_response_xml(
    code: str, message: str, fault: str, request_id: str, namespace: str | None
) -> bytes:
    xmlns = f' xmlns="{_xml_text(namespace)}"' if namespace else ""
    return (
        f"{_XML_DECLARATION}<ErrorResponse{xmlns}><Error><Type>{fault}</Type>"
        f"<Code>{_xml_text(code)}</Code><Message>{_xml_text(message)}</Message></Error>"
        f"<RequestId>{_xml_text(request_id)}</RequestId></ErrorResponse>"
    ).encode()


def _ec2_xml(code: str, message: str, request_id: str) -> bytes:
    # EC2 says RequestID, not RequestId (botocore/parsers.py EC2QueryParser._do_error_parse).
    return (
        f"{_XML_DECLARATION}<Response><Errors><Error><Code>{_xml_text(code)}</Code>"
        f"<Message>{_xml_text(message)}</Message></Error></Errors>"
        f"<RequestID>{_xml_text(request_id)}</RequestID></Response>"
    ).encode()


def _s3_xml(code: str, message: str, request_id: str, headers: dict[str, str]) -> bytes:
    # botocore reads S3's ids from these headers (botocore/parsers.py
    # BaseRestParser._populate_response_metadata); the host id is opaque base64.
    host_id = base64.b64encode(os.urandom(48)).decode()
    headers["x-amz-request-id"] = request_id
    headers["x-amz-id-2"] = host_id
    return (
        f"{_XML_DECLARATION}<Error><Code>{_xml_text(code)}</Code>"
        f"<Message>{_xml_text(message)}</Message><RequestId>{_xml_text(request_id)}</RequestId>"
        f"<HostId>{host_id}</HostId></Error>"
    ).encode()


def _xml_namespace(info: RequestInfo) -> str | None:
    if info.service is None:
        return None
    meta = _models.service_index().services.get(info.service)
    return meta.xml_namespace if meta is not None else None

"""A test app whose only AWS call is one STS call per GET /work, chosen by ``STS_CALL``:
``web-identity`` (AssumeRoleWithWebIdentity, which botocore sends unsigned), ``caller``
(GetCallerIdentity, signed) or ``none`` (no AWS call at all). Errors are ignored: the call was
made all the same, and /work answers 200. GET /health: 200.
"""

from __future__ import annotations

import contextlib
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

STS_CALL = os.environ["STS_CALL"]
STS = boto3.client("sts", config=Config(retries={"total_max_attempts": 1}))


def work() -> None:
    with contextlib.suppress(BotoCoreError, ClientError):
        if STS_CALL == "web-identity":
            STS.assume_role_with_web_identity(
                RoleArn="arn:aws:iam::123456789012:role/federated",
                RoleSessionName="identity-app",
                WebIdentityToken="dummy-token",
            )
        elif STS_CALL == "caller":
            STS.get_caller_identity()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/work":
            work()
        status = 200 if self.path in ("/work", "/health") else 404
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()

"""orders: the small app that docs/your-app.md drills.

GET  /health       200 as soon as the app serves requests
POST /orders       stores the order {"marker": "..."} in DynamoDB: 201 stored, 503 not
GET  /orders/{id}  200 when the order is stored, 404 when it is not, 503 when it cannot tell
"""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

TABLE = os.environ.get("ORDERS_TABLE", "orders")
# A call that outlasts the caller's own timeout answers nobody: fail within a second or two.
DYNAMODB = boto3.client(
    "dynamodb",
    config=Config(
        connect_timeout=1, read_timeout=1, retries={"mode": "standard", "max_attempts": 2}
    ),
)


class Orders(BaseHTTPRequestHandler):
    def answer(self, status: int, body: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            return self.answer(200, {"status": "ok"})
        if not self.path.startswith("/orders/"):
            return self.answer(404, {"error": f"no route {self.path}"})
        order_id = self.path.removeprefix("/orders/")
        try:
            found = DYNAMODB.get_item(TableName=TABLE, Key={"id": {"S": order_id}}).get("Item")
        except (BotoCoreError, ClientError) as error:
            return self.answer(503, {"error": str(error)})
        return self.answer(200 if found else 404, {"id": order_id})

    def do_POST(self) -> None:
        if self.path != "/orders":
            return self.answer(404, {"error": f"no route {self.path}"})
        order = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        try:
            DYNAMODB.put_item(TableName=TABLE, Item={"id": {"S": order["marker"]}})
        except (BotoCoreError, ClientError) as error:
            return self.answer(503, {"error": str(error)})
        return self.answer(201, {"id": order["marker"]})

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per probe request would crowd the app's own errors out of app.log


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8080"))
    ThreadingHTTPServer(("127.0.0.1", port), Orders).serve_forever()

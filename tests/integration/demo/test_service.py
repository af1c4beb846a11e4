"""The demo service on its happy paths: start-up, endpoints, shutdown, configuration errors."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import boto3

from gameday.faults.modes import Mode
from tests.integration.demo.conftest import (
    HOME,
    Demo,
    DemoFactory,
    Faults,
    Resources,
    Response,
    audit_messages,
    new_id,
    wait_until,
)


def test_start_writes_the_port_file_and_announces_the_url(start_demo: DemoFactory) -> None:
    demo = start_demo()

    assert demo.url.startswith("http://127.0.0.1:")
    assert demo.stdout_line == f"gameday-demo listening on {demo.url}"
    health = demo.health()
    assert health.status == 200
    assert health.body["status"] == "ok"
    components = health.body["components"]
    assert isinstance(components, dict)
    assert set(components) == {"credentials", "audit_log", "registry", "orders"}
    assert all(component["status"] == "ok" for component in components.values())


def test_sigterm_exits_0_within_2_s_and_removes_the_spool(start_demo: DemoFactory) -> None:
    demo = start_demo()
    spool_parent = demo.log.parent / "tmp"
    assert [path.name[:13] for path in spool_parent.iterdir()] == ["gameday-demo-"]

    code, took_s = demo.stop()

    assert code == 0
    assert took_s < 2.0
    assert list(spool_parent.iterdir()) == []


def test_sigterm_does_not_wait_for_a_call_stuck_on_a_blackholed_endpoint(
    start_demo: DemoFactory, faults: Faults
) -> None:
    demo = start_demo()
    faults.add("dynamodb", Mode.BLACKHOLE)
    faults.add("logs", Mode.BLACKHOLE)  # and the audit log's last flush hangs too
    assert demo.request("POST", f"/audit/{new_id('unshipped')}").status == 202
    answers: list[Response | Exception] = []

    def write() -> None:
        try:
            answers.append(demo.request("POST", f"/orders/{new_id('stuck')}"))
        except OSError as error:  # the connection closes when the service stops
            answers.append(error)

    writer = threading.Thread(target=write)
    writer.start()
    # The write is then held by the gateway, in one of the service's worker threads.
    wait_until(lambda: faults.hits() >= 2, 5, "the write and the shipper in the blackhole")
    code, took_s = demo.stop()
    writer.join(5)

    assert code == 0
    assert took_s < 2.0
    assert answers, "the request never finished"
    assert '"msg": "audit lines not shipped at exit", "count": 1' in demo.logs()


def test_orders_are_written_and_read_back(
    start_demo: DemoFactory, moto_url: str, resources: Resources
) -> None:
    demo = start_demo()
    order_id = new_id("order")

    created = demo.request("POST", f"/orders/{order_id}")
    read = demo.request("GET", f"/orders/{order_id}")

    assert created.status == 201
    assert created.body["region"] == HOME
    assert read == Response(200, created.body)
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_url, region_name=HOME)
    item = dynamodb.get_item(TableName=resources.table, Key={"id": {"S": order_id}})["Item"]
    assert item == {"id": {"S": order_id}, "created_at": {"S": created.body["created_at"]}}
    assert demo.request("GET", f"/orders/{new_id('never')}").status == 404
    assert demo.request("POST", "/orders/two%20words").status == 400


def test_deploy_resolves_the_tag_to_its_digest_in_ecr(
    start_demo: DemoFactory, resources: Resources
) -> None:
    demo = start_demo()

    deployed = demo.request("POST", "/deploy")

    image = f"{resources.repository}:v1"
    assert deployed == Response(200, {"image": image, "digest": resources.digest, "source": "ecr"})


def test_deploy_of_a_missing_tag_is_404_and_leaves_health_alone(start_demo: DemoFactory) -> None:
    demo = start_demo(GAMEDAY_DEMO_IMAGE_TAG="no-such-tag")

    deployed = demo.request("POST", "/deploy")

    assert deployed.status == 404
    assert "no-such-tag" in str(deployed.body["error"])
    assert demo.health().status == 200


def test_audit_lines_arrive_in_cloudwatch_logs(
    start_demo: DemoFactory, moto_url: str, resources: Resources
) -> None:
    demo = start_demo()
    markers = [new_id("audit") for _ in range(5)]

    answers = [demo.request("POST", f"/audit/{marker}") for marker in markers]

    assert {answer.status for answer in answers} == {202}
    expected = {f"audit marker={marker}" for marker in markers}
    wait_until(
        lambda: expected <= audit_messages(moto_url, resources.log_group),
        5,
        "the audit lines in CloudWatch",
    )


def test_start_retries_assume_role_until_sts_answers(
    start_demo: DemoFactory, faults: Faults
) -> None:
    faults.add("sts")
    demo = start_demo(ready=False)
    wait_until(lambda: faults.hits() >= 2, 5, "AssumeRole failed twice")

    starting = demo.health()
    faults.clear()

    assert starting.status == 503
    assert starting.body["status"] == "starting"
    wait_until(lambda: demo.health().status == 200, 5, "ready once STS answers")


def test_unknown_component_is_404(start_demo: DemoFactory) -> None:
    demo: Demo = start_demo()

    answer = demo.health("nope")

    assert answer.status == 404
    assert answer.body == {
        "error": "no component 'nope'; components: credentials, audit_log, registry, orders"
    }


def test_a_bad_switch_is_exit_2_naming_the_variable() -> None:
    env = {**os.environ, "GAMEDAY_DEMO_CACHE_CREDENTIALS": "yes"}

    result = subprocess.run(
        [sys.executable, "-m", "gameday.demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr == (
        "error: GAMEDAY_DEMO_CACHE_CREDENTIALS='yes' is not a switch\nhint: use 1 (on) or 0 (off)\n"
    )

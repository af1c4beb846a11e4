"""``gameday egress`` options: bad input is exit 2 with the option named, before any CA is
made; and the host-name rules that decide what is decrypted."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from gameday.cli import app
from gameday.egress.hosts import scope_of, targeted
from gameday.egress.proxy import Route, parse_route, route_for, split_authority
from gameday.gateway.models import FaultSpec
from gameday.gateway.store import ActiveFault


def _egress(*argv: str, ca_dir: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["egress", "--ca-dir", str(ca_dir), *argv])
    return result.exit_code, result.output


def test_a_route_without_a_url_is_refused(tmp_path: Path) -> None:
    code, output = _egress("--route", "nonsense", ca_dir=tmp_path / "ca")
    assert code == 2
    assert "--route 'nonsense': expected PATTERN=URL" in output
    assert not (tmp_path / "ca").exists()


def test_a_plain_http_route_is_refused(tmp_path: Path) -> None:
    code, output = _egress("--route", "*.amazonaws.com=http://127.0.0.1:5000", ca_dir=tmp_path)
    assert code == 2
    assert "must be https://HOST:PORT (no path)" in output


def test_listening_beyond_loopback_is_refused(tmp_path: Path) -> None:
    code, output = _egress("--listen", "0.0.0.0:4580", ca_dir=tmp_path / "ca")
    assert code == 2
    assert "listens on loopback only (0.0.0.0 is not)" in output


def test_an_unwritable_ca_dir_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, output = _egress(ca_dir=blocker / "ca")
    assert code == 2
    assert f"--ca-dir {blocker / 'ca'}: cannot write the run's CA there" in output


def test_routes_and_authorities() -> None:
    route = parse_route("*.amazonaws.com=https://127.0.0.1:5443/")
    assert route == Route("*.amazonaws.com", "https://127.0.0.1:5443")
    assert route_for([route], "STS.us-east-1.amazonaws.com") == route
    assert route_for([route], "example.com") is None
    assert split_authority("sts.us-east-1.amazonaws.com:443") == (
        "sts.us-east-1.amazonaws.com",
        443,
    )
    assert split_authority("[::1]:8443") == ("::1", 8443)
    assert split_authority("host") is None
    assert split_authority("host:0") is None
    assert split_authority("bad host:443") is None


def _fault(**match: object) -> ActiveFault:
    spec = FaultSpec.model_validate(
        {"id": "f", "match": match, "effect": {"mode": "throttle"}, "ttl_seconds": 10}
    )
    return ActiveFault.compile(spec, now=0.0)


def test_only_hosts_a_fault_may_match_are_targeted() -> None:
    cloudwatch = _fault(services=["cloudwatch"], regions=["eu-west-1"])
    assert targeted("monitoring.eu-west-1.amazonaws.com", [cloudwatch])
    assert not targeted("monitoring.us-east-1.amazonaws.com", [cloudwatch])
    assert not targeted("logs.eu-west-1.amazonaws.com", [cloudwatch])
    registry = _fault(services=["registry"])
    assert targeted("123456789012.dkr.ecr.us-east-1.amazonaws.com", [registry])
    assert not targeted("api.ecr.us-east-1.amazonaws.com", [registry])
    # A region-wide fault targets every AWS host of the region, and never another host.
    region = _fault(regions=["us-east-1"])
    assert targeted("sts.amazonaws.com", [region])
    assert not targeted("example.com", [region])
    assert not targeted("sts.us-east-1.amazonaws.com", [])
    scope = scope_of("bucket.s3.us-west-2.amazonaws.com")
    assert scope is not None and "s3" in scope.names and scope.region == "us-west-2"

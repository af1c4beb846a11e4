"""``/deploy``: resolve the service's image tag to a digest through ECR, optionally cached.

With the image cache on, the digest resolved last (first at start) stands in when ECR fails,
as a node-local image cache lets a node start the image it already holds; with it off, no
deploy works while ECR is down.

>>> registry = Registry(config, alerts)
>>> await registry.warm(clients)
>>> deployment = await registry.deploy(clients)   # Deployment(source=ImageSource.ECR, ...)
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from gameday.demo.alerts import AlertSink
from gameday.demo.aws import AWS_ERRORS, AwsClients, describe_error, error_code
from gameday.demo.config import DemoConfig
from gameday.demo.health import ComponentHealth, DependencyWatch, ServingWindow
from gameday.demo.logs import fields
from gameday.demo.timing import Clock

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

log = logging.getLogger(__name__)

# ECR answered, and the answer is no: a configuration problem, not an outage of the registry.
_NOT_FOUND_CODES = frozenset({"RepositoryNotFoundException", "ImageNotFoundException"})


class ImageSource(StrEnum):
    ECR = "ecr"
    CACHE = "cache"


@dataclass(frozen=True)
class Deployment:
    image: str
    digest: str
    source: ImageSource

    def to_json(self) -> dict[str, str]:
        return {"image": self.image, "digest": self.digest, "source": self.source.value}


class ImageNotFoundError(Exception):
    """ECR has no such repository or tag."""


class RegistryUnavailableError(Exception):
    """ECR failed and no cached digest can stand in."""


def _resolve(ecr: ECRClient, repository: str, tag: str) -> str:
    response = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": tag}])
    for image in response.get("images", []):
        digest = image.get("imageId", {}).get("imageDigest")
        if digest:
            return digest
    reasons = [
        failure.get("failureReason") or failure.get("failureCode") or "unknown"
        for failure in response.get("failures", [])
    ]
    raise ImageNotFoundError(f"{repository}:{tag} not in ECR: {'; '.join(reasons) or 'no image'}")


class Registry:
    """Resolves ``REPOSITORY:IMAGE_TAG`` for each deploy."""

    def __init__(self, config: DemoConfig, alerts: AlertSink, *, clock: Clock = time.monotonic):
        self._config = config
        self.image = f"{config.repository}:{config.image_tag}"
        self._cached_digest: str | None = None
        self._missing: str | None = None
        self.watch = DependencyWatch("registry", alerts, clock)
        self._serving = ServingWindow(clock)

    async def warm(self, clients: AwsClients) -> None:
        """Resolve once at start to fill the image cache; failures are recorded, not raised."""
        if not self._config.image_cache:
            return
        try:
            deployment = await self.deploy(clients, record=False)
        except (ImageNotFoundError, RegistryUnavailableError) as error:
            log.warning(
                "image not cached at start", extra=fields(image=self.image, error=str(error))
            )
        else:
            log.info("image cached", extra=fields(image=self.image, digest=deployment.digest))

    async def deploy(self, clients: AwsClients, *, record: bool = True) -> Deployment:
        """The image's digest from ECR, or from the cache when ECR fails and the cache is on.

        ``record``: whether the outcome counts as a customer request for /health.
        """
        repository, tag = self._config.repository, self._config.image_tag
        try:
            digest = await clients.call(_resolve, clients.ecr, repository, tag)
        except ImageNotFoundError as error:
            raise self._not_found(str(error)) from error
        except AWS_ERRORS as error:
            if error_code(error) in _NOT_FOUND_CODES:
                reason = f"{self.image} not in ECR: {describe_error(error)}"
                raise self._not_found(reason) from error
            return self._fall_back(f"BatchGetImage failed: {describe_error(error)}", record)
        self.watch.succeeded()
        self._missing = None
        if self._config.image_cache:
            self._cached_digest = digest
        if record:
            self._serving.record(True)
        return Deployment(self.image, digest, ImageSource.ECR)

    def _not_found(self, reason: str) -> ImageNotFoundError:
        self.watch.succeeded()
        self._missing = reason
        return ImageNotFoundError(reason)

    def _fall_back(self, error: str, record: bool) -> Deployment:
        self.watch.failed(error)
        if self._config.image_cache and self._cached_digest is not None:
            if record:
                self._serving.record(True)
            return Deployment(self.image, self._cached_digest, ImageSource.CACHE)
        if record:
            self._serving.record(False, error)
        raise RegistryUnavailableError(error)

    def health(self) -> ComponentHealth:
        cached = self._cached_digest is not None
        if not self._serving.ok:
            detail = self._serving.last_failure or "deploys failing"
        elif self.watch.failing and cached:
            detail = "ok (deploying the cached image, ECR failing)"
        elif self.watch.failing:
            detail = "ok (no deploy failed lately; ECR failing, no cached image)"
        elif self._missing is not None:
            detail = f"ok (ECR answers, but {self._missing})"
        else:
            detail = "ok"
        return ComponentHealth(self._serving.ok, detail, self.watch.state, self.watch.last_error)

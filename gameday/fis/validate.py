"""botocore's own validation of a ``create_experiment_template`` request, before it is sent."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from gameday.errors import InvalidInputError


@cache
def _input_shape() -> Any:
    # Lazy: botocore takes ~70 ms to import, and `gameday plan --env aws` imports this module
    # (through fis.plan) without validating a request.
    import botocore.session  # noqa: PLC0415

    model = botocore.session.get_session().get_service_model("fis")
    return model.operation_model("CreateExperimentTemplate").input_shape


def validate_request(request: Mapping[str, Any]) -> None:
    """Raise ``InvalidInputError`` with botocore's report when it would refuse ``request``."""
    # Lazy: see _input_shape.
    from botocore.exceptions import ParamValidationError  # noqa: PLC0415
    from botocore.validate import validate_parameters  # noqa: PLC0415

    try:
        validate_parameters(dict(request), _input_shape())
    except ParamValidationError as error:
        raise InvalidInputError(f"the FIS template is not a valid request: {error}") from None

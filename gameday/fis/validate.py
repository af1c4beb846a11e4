"""botocore's own validation of a ``create_experiment_template`` request, before it is sent."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from gameday.errors import InvalidInputError


@cache
def _input_shape() -> Any:
    import botocore.session

    model = botocore.session.get_session().get_service_model("fis")
    return model.operation_model("CreateExperimentTemplate").input_shape


def validate_request(request: Mapping[str, Any]) -> None:
    """Raise ``InvalidInputError`` with botocore's report when it would refuse ``request``."""
    from botocore.exceptions import ParamValidationError
    from botocore.validate import validate_parameters

    try:
        validate_parameters(dict(request), _input_shape())
    except ParamValidationError as error:
        raise InvalidInputError(f"the FIS template is not a valid request: {error}") from None

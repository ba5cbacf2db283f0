"""Maps domain errors to HTTP in one place."""

from drf_standardized_errors.handler import exception_handler as standardized_handler


def exception_handler(exc, context):
    return standardized_handler(exc, context)

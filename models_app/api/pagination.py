"""Pagination with a stable order."""

from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination

from models_app.exceptions import InvalidInput
from models_app.inputs import is_ascii_int


class StablePageNumberPagination(PageNumberPagination):
    """Page-number pagination; ``page_size`` may be chosen up to 500.

    Every list the API pages is ordered by a unique key (or ends with one), so pages never
    overlap or skip rows. ``page`` and ``page_size`` are ASCII digits only: Python's ``int`` would
    read digits of any script (``page=\\u0662`` as page 2).
    """

    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw not in (None, "") and not is_ascii_int(raw):
            raise InvalidInput(
                f"Must be a whole number from 1 to {self.max_page_size}.", field=self.page_size_query_param
            )
        return super().get_page_size(request)

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param)
        if raw not in (None, "", *self.last_page_strings) and not is_ascii_int(raw):
            raise NotFound(self.invalid_page_message)
        return super().get_page_number(request, paginator)

"""Pagination with a stable order."""

from rest_framework.pagination import PageNumberPagination


class StablePageNumberPagination(PageNumberPagination):
    """Page-number pagination; ``page_size`` may be chosen up to 500.

    Every list the API pages is ordered by a unique key (or ends with one), so pages never
    overlap or skip rows.
    """

    page_size_query_param = "page_size"
    max_page_size = 500

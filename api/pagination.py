"""Cursor pagination: stable pages while rows are added (`next`/`previous` links, `?limit=`)."""

from rest_framework.pagination import CursorPagination


class Cursor(CursorPagination):
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500
    ordering = "-pk"

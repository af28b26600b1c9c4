"""Cursor pagination by primary key: stable under inserts, and as fast on page 5,000 as on page 1."""

from rest_framework.pagination import CursorPagination

MAX_PAGE_SIZE = 1000


class IdCursorPagination(CursorPagination):
    ordering = "pk"
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    page_size_query_description = f"Rows per page (default 100, at most {MAX_PAGE_SIZE})."
    cursor_query_description = "The `next` or `previous` link of the page before; leave out for the first page."

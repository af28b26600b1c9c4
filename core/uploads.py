"""Uploads bounded while they arrive: a file larger than IMPORT_MAX_UPLOAD_MB is dropped.

Django streams uploads to memory or a temporary file but sets no size limit of its own, so a
multi-gigabyte upload would fill the disk before any form could say no. These handlers count
each file's bytes as they arrive; past the limit the file is skipped (its remaining bytes are
read and thrown away) and the reason is left on the request, where forms read it with
`upload_refusal(request, field_name)`.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import MemoryFileUploadHandler, SkipFile, TemporaryFileUploadHandler

from core.bounded_input import megabytes


def upload_refusal(request, field_name: str) -> str:
    """Why the file of `field_name` was dropped while uploading ('' if it was not)."""
    return getattr(request, "upload_refusals", {}).get(field_name, "")


class _Bounded:
    def new_file(self, field_name, file_name, *args, **kwargs):
        self.received = 0
        self.bounded_field, self.bounded_name = field_name, file_name
        return super().new_file(field_name, file_name, *args, **kwargs)

    def receive_data_chunk(self, raw_data, start):
        limit = settings.IMPORT_MAX_UPLOAD_MB * 1024 * 1024
        self.received = start + len(raw_data)
        if self.received > limit:
            refusals = getattr(self.request, "upload_refusals", None)
            if refusals is None:
                refusals = self.request.upload_refusals = {}
            refusals[self.bounded_field] = (
                f"{self.bounded_name} is larger than {megabytes(limit)}, the most an import takes "
                "(IMPORT_MAX_UPLOAD_MB); split the export, e.g. by project or by date."
            )
            raise SkipFile
        return super().receive_data_chunk(raw_data, start)


class BoundedMemoryFileUploadHandler(_Bounded, MemoryFileUploadHandler):
    """Django's in-memory handler (small files), with the size bound."""


class BoundedTemporaryFileUploadHandler(_Bounded, TemporaryFileUploadHandler):
    """Django's temporary-file handler (large files), with the size bound."""

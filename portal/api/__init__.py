"""The REST API at /api/v1/: reporting tools read item-level facts and metrics, toolchains write.

Everything here reads through the selectors and the flow engine the pages use, and writes
through the same services (state changes through `streams.backlog.services.item_change_state` and its
release gate), so the API and the pages cannot disagree.
"""

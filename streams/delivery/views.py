"""The delivery timeline of a stream, and the four keys the stream page shows."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from streams.delivery.keys import BANDS_YEAR, delivery_keys, delivery_timeline, key_rows
from streams.flow.forms import FlowWindowForm
from streams.selectors import stream_get


def delivery_context(stream, window) -> dict:
    """The four keys of delivery performance over the flow window (three queries)."""
    keys = delivery_keys([stream.pk], window.start, window.end)[stream.pk]
    return {"delivery": keys, "delivery_rows": key_rows(keys), "bands_year": BANDS_YEAR}


@require_GET
def stream_delivery(request: HttpRequest, slug: str) -> HttpResponse:
    """The delivery timeline: deployments, incidents and finished items on one time axis, with
    the four keys over the same window."""
    stream = stream_get(user=request.user, slug=slug)
    window_form = FlowWindowForm(request.GET or None)
    window = window_form.window()
    context = {
        "stream": stream,
        "window": window,
        "window_form": window_form,
        "timeline": delivery_timeline(stream, window.start, window.end),
        **delivery_context(stream, window),
    }
    return render(request, "streams/delivery.html", context)

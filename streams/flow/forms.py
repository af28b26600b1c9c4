"""Forms of the flow pages: the window a page measures and the forecast questions."""

import datetime as dt

from django import forms
from django.utils import timezone

from core.dates import EARLIEST
from streams.flow.engine import DEFAULT_WEEKS, Window, default_days
from streams.flow.forecast import MAX_DAYS

WEEK_CHOICES = [(4, "4 weeks"), (8, "8 weeks"), (12, "12 weeks"), (26, "26 weeks"), (52, "52 weeks")]


class FlowWindowForm(forms.Form):
    """The window a flow page measures: the last N weeks, or a from/to range of days."""

    weeks = forms.TypedChoiceField(choices=WEEK_CHOICES, coerce=int, required=False, initial=DEFAULT_WEEKS)
    start = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        today = timezone.now().astimezone(dt.UTC).date()
        if end and end > today:
            self.add_error("end", "The window cannot end in the future: there is no history there yet.")
        if start and start > (end or today):
            self.add_error("start", f"The window must start on or before its last day ({end or today}).")
        if start and (end or today) - start > dt.timedelta(days=3 * 366):
            self.add_error("start", "Choose a window of at most three years.")
        for name in ("start", "end"):
            if cleaned.get(name) and cleaned[name] < EARLIEST:
                self.add_error(name, f"Choose a date from {EARLIEST} on.")
        return cleaned

    def window(self, *, as_of: dt.datetime | None = None) -> Window:
        """The chosen window; the default window (`streams.flow.engine.default_days`) when the form is
        empty or invalid; the last N weeks are complete days as the default's are.

        A window that ends in the past is read as of its end, so WIP and aging describe then.
        """
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        start, end = data.get("start"), data.get("end")
        if as_of is None and end:
            end_of_window = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC)
            if end_of_window < timezone.now():
                as_of = end_of_window
        if start:
            return Window.build(start=start, end=end, as_of=as_of)
        weeks = data.get("weeks") or DEFAULT_WEEKS
        if end:
            return Window.build(start=end - dt.timedelta(days=7 * weeks - 1), end=end, as_of=as_of)
        first, last = default_days(as_of or timezone.now(), weeks)
        return Window.build(start=first, end=last, as_of=as_of)


class ForecastForm(forms.Form):
    """The two Monte Carlo questions: how many by a date, and when N items will be done."""

    by_date = forms.DateField(label="How many items by", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    items = forms.IntegerField(label="When will this many be done", required=False, min_value=1, max_value=100_000)

    def clean_by_date(self):
        value = self.cleaned_data.get("by_date")
        today = timezone.now().astimezone(dt.UTC).date()
        if value and value <= today:
            raise forms.ValidationError("Choose a date after today.")
        if value and (value - today).days > MAX_DAYS:
            raise forms.ValidationError("Choose a date within three years: further out, a forecast says nothing.")
        return value

"""Number formats of the OKR pages: a dash for what has no value, never a made-up zero."""

from django import template

register = template.Library()


@register.filter
def percent(value) -> str:
    """0.425 -> "43%"; over-achievement stays visible (1.3 -> "130%")."""
    return "—" if value is None else f"{float(value):.0%}"


@register.filter
def decimal2(value) -> str:
    """Two decimals without trailing zeros: 0.70 -> "0.7", 120.00 -> "120"."""
    if value is None:
        return "—"
    text = f"{float(value):,.2f}".rstrip("0").rstrip(".")
    return text

"""`{% link 'name' arg %}`: `{% url %}` for rows of long tables (`core.urls.fast_reverse`)."""

from django import template

from core.urls import fast_reverse

register = template.Library()


@register.simple_tag
def link(name: str, *args) -> str:
    return fast_reverse(name, *args)

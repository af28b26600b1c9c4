"""The admin of the portal's own models: chat channels (administrators only), written through
`portal.notifications.services`, the webhook address encrypted and never shown again."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from core import access
from core.admin import PortalModelAdmin, require
from portal.notifications.models import ChatChannel, Kind
from portal.notifications.services import chat_channel_clean, chat_channel_save


class ChatChannelForm(forms.ModelForm):
    url = forms.CharField(
        label="Webhook address",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="The channel's incoming webhook (Slack) or workflow address (Teams). Stored encrypted; never shown "
        "again. Leave empty to keep the stored one.",
    )
    kinds = forms.MultipleChoiceField(
        choices=Kind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="What is posted here; none ticked: every kind.",
    )

    class Meta:
        model = ChatChannel
        fields = ["name", "service", "team", "stream", "url", "kinds", "active"]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        candidate = ChatChannel(
            name=cleaned.get("name", ""),
            service=cleaned.get("service", ""),
            team=cleaned.get("team"),
            stream=cleaned.get("stream"),
            kinds=cleaned.get("kinds") or [],
            url_encrypted=self.instance.url_encrypted,
        )
        try:
            chat_channel_clean(candidate, cleaned.get("url") or None)
        except ValidationError as error:
            for name, messages_ in error.message_dict.items():
                self.add_error(name if name in self.fields else None, messages_)
        return cleaned


@admin.register(ChatChannel)
class ChatChannelAdmin(PortalModelAdmin):
    form = ChatChannelForm
    list_display = ["name", "service", "team", "stream", "active"]
    list_filter = ["service", "active"]
    list_select_related = ["team", "stream"]
    search_fields = ["name"]

    def save_model(self, request, obj, form, change):
        require(request, access.CHANGE if change else access.ADD, obj)
        obj.kinds = form.cleaned_data.get("kinds") or []
        chat_channel_save(channel=obj, url=form.cleaned_data.get("url") or None)

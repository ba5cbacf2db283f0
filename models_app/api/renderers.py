"""DRF's browsable API for people signed in with a browser: GET answers as readable pages. Writes stay
with the API's clients (and the reviewer UI), so the pages carry no forms."""

from __future__ import annotations

from rest_framework.renderers import BrowsableAPIRenderer


class ReadOnlyBrowsableAPIRenderer(BrowsableAPIRenderer):
    """The browsable API without its POST/PUT/PATCH/DELETE forms and filter form: they would build
    serializers for requests the page is not making (and multipart registration has no useful form)."""

    def show_form_for_method(self, view, method, request, obj):
        return False

    def get_rendered_html_form(self, data, view, method, request):
        return None

    def get_raw_data_form(self, data, view, method, request):
        return None

    def get_filter_form(self, data, view, request):
        return None

    def get_context(self, data, accepted_media_type, renderer_context):
        context = super().get_context(data, accepted_media_type, renderer_context)
        # The syntax-highlighting CSS would be an inline <style>, which the Content-Security-Policy
        # (style-src 'self') refuses; the response reads as plain preformatted JSON instead.
        context["code_style"] = None
        return context

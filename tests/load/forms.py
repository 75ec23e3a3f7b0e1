"""Reading an HTML form the way a browser would submit it (stdlib only): every named input,
select and textarea of the form, with its current value. Submit buttons are left out."""

from __future__ import annotations

from html.parser import HTMLParser


class _FormReader(HTMLParser):
    def __init__(self, selector: tuple[str, str] | None) -> None:
        super().__init__(convert_charrefs=True)
        self.selector = selector  # (attribute, value) naming the form, else the first form
        self.inside = False
        self.done = False
        self.fields: dict[str, str] = {}
        self._select: str | None = None
        self._first_option: str | None = None
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = {k: (v or "") for k, v in attrs}
        if tag == "form" and not self.inside and not self.done:
            if self.selector is None or self.selector[1] in attrs.get(self.selector[0], "").split():
                self.inside = True
            return
        if not self.inside:
            return
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type", "text") not in ("submit", "button", "image", "reset"):
            if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.fields[name] = attrs.get("value", "")
        elif tag == "select" and name:
            self._select, self._first_option = name, None
        elif tag == "option" and self._select:
            value = attrs.get("value", "")
            if self._first_option is None:
                self._first_option = value
            if "selected" in attrs:
                self.fields[self._select] = value
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_endtag(self, tag):
        if not self.inside:
            return
        if tag == "select" and self._select:
            self.fields.setdefault(self._select, self._first_option or "")
            self._select = None
        elif tag == "textarea" and self._textarea:
            text = "".join(self._text)
            self.fields[self._textarea] = text[1:] if text.startswith("\n") else text
            self._textarea = None
        elif tag == "form":
            self.inside, self.done = False, True

    def handle_data(self, data):
        if self._textarea:
            self._text.append(data)


def form_fields(html: str, css_class: str | None = None) -> dict[str, str]:
    """The fields of the first form (with ``css_class`` when given) as a browser submits them."""
    reader = _FormReader(("class", css_class) if css_class else None)
    reader.feed(html)
    reader.close()
    return reader.fields

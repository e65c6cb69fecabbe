"""What every HTML report must be: self-contained (nothing to load but its own data URIs) with PNG figures."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from html.parser import HTMLParser

from PIL import Image

#: Tags that would load or run something.
FORBIDDEN_TAGS = {"script", "link", "iframe", "object", "embed", "base", "frame", "audio", "video", "source"}
#: Attributes that name something to load or follow.
URL_ATTRIBUTES = {"src", "href", "srcset", "action", "data", "poster", "background", "formaction"}


@dataclass
class Page(HTMLParser):
    """The parts of a page the checks look at."""

    tags: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    images: list[dict[str, str]] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    meta: list[dict[str, str]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.append(tag)
        self.urls += [v for k, v in values.items() if k in URL_ATTRIBUTES]
        if "id" in values:
            self.ids.add(values["id"])
        if tag == "img":
            self.images.append(values)
        if tag == "meta":
            self.meta.append(values)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_page(page: str) -> Page:
    """Assert the page is self-contained and every figure a decodable PNG; return its parts."""
    parsed = Page()
    parsed.feed(page)
    parsed.close()
    assert page.startswith("<!DOCTYPE html>")
    assert not FORBIDDEN_TAGS & set(parsed.tags), FORBIDDEN_TAGS & set(parsed.tags)
    assert all(u.startswith(("data:image/png;base64,", "#")) for u in parsed.urls), [u[:60] for u in parsed.urls]
    assert "url(" not in page and "@import" not in page  # the inline style loads nothing either
    csp = [m["content"] for m in parsed.meta if m.get("http-equiv", "").lower() == "content-security-policy"]
    assert csp and "default-src 'none'" in csp[0] and "script-src" not in csp[0], csp
    assert parsed.images
    for img in parsed.images:
        png = base64.b64decode(img["src"].split(",", 1)[1], validate=True)
        with Image.open(io.BytesIO(png)) as image:
            assert image.format == "PNG" and min(image.size) > 100, (image.format, image.size)
            image.verify()
        assert img.get("alt")
    return parsed

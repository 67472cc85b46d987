"""Checks a pairpose report page offline: well-formed HTML (every non-void element closed in
order), the expected words present, at least a given number of embedded PNG images (data URIs
that decode to PNG files), and no reference to any external URL or file.

usage: report_check.py REPORT.html MIN_IMAGES WORD [WORD ...]
Exits 0 when every check passes, 1 with one line per problem otherwise.
"""
import base64
import re
import sys
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
URL_ATTRIBUTES = {"src", "href", "action", "srcset", "poster", "data", "background", "cite",
                  "formaction"}


class Checker(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.problems, self.images, self.text = [], [], 0, []

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append(tag)
        if tag in ("script", "link", "iframe", "object", "embed", "base"):
            self.problems.append(f"element <{tag}> (may load external content)")
        for name, value in attrs:
            value = value or ""
            if name in URL_ATTRIBUTES and not value.startswith(("data:", "#")):
                self.problems.append(f"<{tag} {name}=\"{value[:60]}\"> refers outside the page")
            if name == "style" and "url(" in value and "url(data:" not in value:
                self.problems.append(f"<{tag}> style refers to a url()")
        if tag == "img":
            src = dict(attrs).get("src") or ""
            prefix = "data:image/png;base64,"
            if src.startswith(prefix):
                if base64.b64decode(src[len(prefix):]).startswith(b"\x89PNG\r\n\x1a\n"):
                    self.images += 1
                else:
                    self.problems.append("an embedded image is not a PNG")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}>")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def main():
    path, min_images, words = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    html = open(path, encoding="utf-8").read()
    checker = Checker()
    checker.feed(html)
    checker.close()
    problems = list(checker.problems)
    if checker.stack:
        problems.append(f"unclosed elements at the end: {checker.stack}")
    if not html.lstrip().lower().startswith("<!doctype html>"):
        problems.append("no <!DOCTYPE html>")
    if checker.images < min_images:
        problems.append(f"{checker.images} embedded PNG image(s), expected at least {min_images}")
    for m in re.finditer(r"(https?|ftp)://|file:", html):
        problems.append(f"external reference near: {html[max(0, m.start() - 30):m.end() + 30]!r}")
    text = " ".join(checker.text)
    for word in words:
        if not re.search(word, text):
            problems.append(f"the page's text lacks {word!r}")
    for p in problems:
        print(f"{path}: {p}")
    print(f"{path}: {checker.images} image(s), {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

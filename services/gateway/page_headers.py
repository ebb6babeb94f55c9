"""The headers every built-in page (front page, docs, console, chat) is served with: its own
Content-Security-Policy, never cached stale, no referrer, no sniffing, and no framing unless the
page is meant to be embedded."""


def page_headers(*directives: str, framed: bool = False) -> dict[str, str]:
    """Headers for a page whose CSP is `directives`; `framed`: it may be embedded (the chat
    page's CSP then names its own frame-ancestors)."""
    headers = {
        "Cache-Control": "no-cache",
        "Content-Security-Policy": "; ".join(directives),
        # Page URLs can carry a project token: never hand it to the sites a page links to.
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
    if not framed:
        headers["X-Frame-Options"] = "DENY"
    return headers

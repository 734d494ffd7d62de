"""Resource URIs, and the one rule for spelling a channel inside them.

Sharkfin channel names are free text (spaces, ``é``, even ``/``), so a name is percent-encoded as
one URI path segment wherever we emit a URI (lists, template expansion, update notifications).
Clients may subscribe or read with another spelling of the same resource (the raw name, lower-case
hex, non-ASCII left as is); :func:`canonical` maps every spelling to one key, and
:func:`spellings` lists the forms an update is announced under, so a subscriber hears of it on
the URI it subscribed with.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

__all__ = [
    "CHANNELS_URI",
    "HISTORY_TEMPLATE",
    "ME_URI",
    "UNREAD_URI",
    "USERS_URI",
    "canonical",
    "history_uri",
    "spellings",
]

CHANNELS_URI = "sharkfin://channels"
UNREAD_URI = "sharkfin://unread"
USERS_URI = "sharkfin://users"
ME_URI = "sharkfin://me"
HISTORY_TEMPLATE = "sharkfin://channels/{channel}/history"

_HISTORY = re.compile(r"^sharkfin://channels/(?P<segment>[^/]+)/history$")


def history_uri(channel: str) -> str:
    """``sharkfin://channels/<channel, percent-encoded as one segment>/history``."""
    return f"sharkfin://channels/{quote(channel, safe='')}/history"


def canonical(uri: str) -> str:
    """The one spelling of ``uri`` that we emit (unchanged for URIs that name no channel)."""
    found = _HISTORY.match(uri)
    return history_uri(unquote(found["segment"])) if found else uri


def spellings(uri: str) -> list[str]:
    """The canonical form first, then the other usual spellings of the same resource."""
    found = _HISTORY.match(canonical(uri))
    if not found:
        return [uri]
    name = unquote(found["segment"])
    forms = [history_uri(name)]
    iri = "".join(c if ord(c) > 127 else quote(c, safe="") for c in name)
    forms.append(f"sharkfin://channels/{iri}/history")
    if "/" not in name:
        forms.append(f"sharkfin://channels/{name}/history")
    return list(dict.fromkeys(forms))

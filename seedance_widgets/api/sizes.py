"""Pixel sizes (width, height) that Seedance models render, by resolution then aspect ratio.

Data only. Each table names the page it was read from; the catalogue (``catalog.py``) says
which model uses which table. A resolution with no confirmed table is simply absent here:
the catalogue then records ``None`` for it (size unknown), never a size worked out by hand.
``adaptive`` has no fixed size (the model follows the input image), so it is in no table.
"""

from __future__ import annotations

from collections.abc import Mapping

SizeTable = Mapping[str, tuple[int, int]]

#: Seedance 1.5 Pro and the Seedance 2.0 family at 480p and 720p. Read from the ToAPIs gateway's
#: Seedance 2.0 page, section "resolution and aspect ratio pixel mapping"
#: (https://docs.toapis.com/docs/en/api-reference/videos/doubao-seedance-2-0/generation), and equal
#: to the 1.5 Pro table of the project's contract (/work/shared/seedance-api.md, section 5).
SEEDANCE_15_20_480P: SizeTable = {
    "16:9": (864, 496),
    "4:3": (752, 560),
    "1:1": (640, 640),
    "3:4": (560, 752),
    "9:16": (496, 864),
    "21:9": (992, 432),
}
SEEDANCE_15_20_720P: SizeTable = {
    "16:9": (1280, 720),
    "4:3": (1112, 834),
    "1:1": (960, 960),
    "3:4": (834, 1112),
    "9:16": (720, 1280),
    "21:9": (1470, 630),
}

#: Seedance 1.0 Pro and 1.0 Pro Fast (the same sizes: one token table covers lite, pro and
#: pro-fast). 480p and 720p from 302.AI's copy of the Ark token table
#: (https://302ai-en.apifox.cn/305958132e0); 480p and 1080p from Runware's Seedance 1.0 Pro page
#: (https://runware.ai/docs/models/bytedance-seedance-1-0-pro.md). The two agree on 480p.
SEEDANCE_10_480P: SizeTable = {
    "16:9": (864, 480),
    "4:3": (736, 544),
    "1:1": (640, 640),
    "3:4": (544, 736),
    "9:16": (480, 864),
    "21:9": (960, 416),
}
SEEDANCE_10_720P: SizeTable = {
    "16:9": (1248, 704),
    "4:3": (1120, 832),
    "1:1": (960, 960),
    "3:4": (832, 1120),
    "9:16": (704, 1248),
    "21:9": (1504, 640),
}
SEEDANCE_10_1080P: SizeTable = {
    "16:9": (1920, 1088),
    "4:3": (1664, 1248),
    "1:1": (1440, 1440),
    "3:4": (1248, 1664),
    "9:16": (1088, 1920),
    "21:9": (2176, 928),
}

#: Sizes for rendering and layout where a model's own table is unknown (``None`` in the catalogue):
#: NOT a fact about that model. 480p and 720p: the 1.5 Pro / 2.0 tables above (the closest relatives
#: with a published table). 1080p: the 1.0 Pro table (the only Seedance 1080p table any page gives).
#: 4k: twice the 1080p sides (3840x2176 for 16:9), as no page gives Seedance 4k sizes. The emulator
#: renders these; a caller that must not guess asks ``GenerationRequest.known_size`` instead.
NOMINAL_SIZES: Mapping[str, SizeTable] = {
    "480p": SEEDANCE_15_20_480P,
    "720p": SEEDANCE_15_20_720P,
    "1080p": SEEDANCE_10_1080P,
    "4k": {ratio: (2 * w, 2 * h) for ratio, (w, h) in SEEDANCE_10_1080P.items()},
}
#: The ratio a nominal size falls back to for ``adaptive`` (the model follows its input image).
NOMINAL_RATIO = "16:9"


def nominal_size(resolution: str, ratio: str) -> tuple[int, int] | None:
    """A stand-in (width, height) for ``resolution`` and ``ratio`` (adaptive: 16:9); None if unknown."""
    table = NOMINAL_SIZES.get(resolution)
    if table is None:
        return None
    return table.get(ratio) or table.get(NOMINAL_RATIO)

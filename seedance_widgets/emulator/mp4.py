"""The emulator's video: a real, deterministic H.264/AAC MP4 rendered with PyAV.

Speed comes from doing the expensive work once: text, gradients and images are drawn
with Pillow and converted to yuv420p a single time; each frame is then a few numpy
slice copies (a panning scene strip, a moving square, a progress bar, a frame
counter from pre-drawn digit glyphs) encoded with a fast x264 preset.

Determinism: no timestamps in the container (``fflags=+bitexact``), a fixed x264
thread count (x264 output depends on it), and every random choice drawn from the seed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import random
import tempfile
import textwrap
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from seedance_widgets.api import FPS

SAMPLE_RATE = 48_000
#: x264's output depends on its thread count, so it is fixed rather than "auto" (per-CPU).
X264_THREADS = 2
CRF = 23
#: Frames of cross-fade from the first-frame image into the scene (and into the last-frame image).
FADE_FRAMES = 12
_FONT_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
)

YUV = tuple[int, int, int]


@dataclasses.dataclass(frozen=True)
class FrameImage:
    """An image for a frame role: its bytes, or None for a placeholder (not an emulator upload)."""

    data: bytes | None
    label: str

    def identity(self) -> str:
        if self.data is None:
            return "placeholder:" + self.label
        return "sha256:" + hashlib.sha256(self.data).hexdigest()


@dataclasses.dataclass(frozen=True)
class RenderSpec:
    """Everything that decides the bytes of one clip."""

    prompt: str
    width: int
    height: int
    duration: int
    audio: bool
    seed: int
    camera_fixed: bool = False
    first_frame: FrameImage | None = None
    last_frame: FrameImage | None = None
    references: tuple[FrameImage, ...] = ()
    preset: str = "ultrafast"

    def cache_key(self) -> str:
        """Same key <=> same bytes: images enter by content hash, not by URL."""
        canonical = {
            "prompt": self.prompt,
            "size": [self.width, self.height],
            "duration": self.duration,
            "audio": self.audio,
            "seed": self.seed,
            "camera_fixed": self.camera_fixed,
            "first": self.first_frame.identity() if self.first_frame else None,
            "last": self.last_frame.identity() if self.last_frame else None,
            "refs": [r.identity() for r in self.references],
            "preset": self.preset,
        }
        text = json.dumps(canonical, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


# ---- drawing (once per clip) -------------------------------------------------------------


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in _FONT_PATHS:
        if os.path.exists(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def _to_yuv(rgb: np.ndarray) -> np.ndarray:
    """An RGB image (h, w, 3) as one yuv420p array (h * 3 / 2, w), converted by FFmpeg."""
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    return frame.reformat(format="yuv420p").to_ndarray()


def _rgb_to_yuv_triplet(rgb: tuple[int, int, int]) -> YUV:
    # BT.601 limited range, as FFmpeg's default rgb24 -> yuv420p conversion.
    r, g, b = rgb
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    return round(y), round(u), round(v)


def _fit(data: bytes, width: int, height: int) -> Image.Image | None:
    """Decode an image and scale it to cover width x height (centre crop); None if unreadable."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.seek(0)  # first frame of a GIF
            rgb = img.convert("RGB")
    except Exception:
        return None
    scale = max(width / rgb.width, height / rgb.height)
    w, h = max(width, round(rgb.width * scale)), max(height, round(rgb.height * scale))
    rgb = rgb.resize((w, h), Image.Resampling.BICUBIC)
    left, top = (w - width) // 2, (h - height) // 2
    return rgb.crop((left, top, left + width, top + height))


def _placeholder(label: str, width: int, height: int) -> Image.Image:
    """A stand-in for an image the emulator may not fetch (it never touches the network)."""
    cell = max(16, width // 24)
    yy, xx = np.mgrid[0:height, 0:width]
    checker = (((yy // cell) + (xx // cell)) % 2).astype(np.uint8)
    arr = np.where(checker[..., None] == 1, np.uint8(96), np.uint8(72)).repeat(3, axis=2)
    img = Image.fromarray(arr, "RGB")
    draw = ImageDraw.Draw(img)
    size = max(12, height // 18)
    draw.text(
        (width // 20, height // 3), "image not available offline", fill=(235, 235, 235), font=_font(size)
    )
    short = label if len(label) <= 70 else label[:67] + "..."
    draw.text(
        (width // 20, height // 3 + size * 2), short, fill=(200, 200, 200), font=_font(max(10, size // 2))
    )
    return img


def _frame_image(image: FrameImage, width: int, height: int) -> np.ndarray:
    fitted = _fit(image.data, width, height) if image.data is not None else None
    if fitted is None:
        fitted = _placeholder(image.label, width, height)
    return _to_yuv(np.asarray(fitted))


@dataclasses.dataclass
class _Scene:
    """The pre-drawn parts of a clip, all as yuv420p planes."""

    base: np.ndarray  # (h*3/2, w) background with text
    scene_top: int  # first row of the panning strip (even); rows above it never move
    square: int  # side of the moving square (even)
    square_yuv: YUV
    digits: np.ndarray  # (10, gh, gw) Y glyphs of 0-9
    counter_xy: tuple[int, int]
    bar_rows: tuple[int, int]


def _palette(rng: random.Random) -> tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]:
    def colour(lo: int, hi: int) -> tuple[int, int, int]:
        return (rng.randint(lo, hi), rng.randint(lo, hi), rng.randint(lo, hi))

    return colour(10, 70), colour(60, 140), colour(170, 255)


def _draw_scene(spec: RenderSpec) -> _Scene:
    w, h = spec.width, spec.height
    rng = random.Random(f"scene:{spec.seed}")
    dark, mid, bright = _palette(rng)
    # Vertical gradient from dark to mid.
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    rgb = (np.array(dark, np.float32) * (1 - t) + np.array(mid, np.float32) * t).repeat(w, axis=1)
    rgb = rgb.astype(np.uint8)
    scene_top = (int(h * 0.42) // 2) * 2
    # Stripes in the lower "scene" make camera motion visible when it pans.
    stripe = max(8, w // 16)
    cols = (np.arange(w) // stripe) % 2 == 0
    rgb[scene_top:, cols] = (rgb[scene_top:, cols].astype(np.int16) + 28).clip(0, 255).astype(np.uint8)
    img = Image.fromarray(rgb, "RGB")
    draw = ImageDraw.Draw(img)
    margin = max(8, w // 40)
    title_size = max(12, min(w, h) // 22)
    draw.text((margin, margin), "Seedance emulator", fill=bright, font=_font(title_size))
    body = _font(max(10, min(w, h) // 30))
    line_h = max(12, min(w, h) // 30) + 4
    # Reference images go in a thumbnail column at the right of the text band.
    refs = len(spec.references)
    thumb_h = max(8, min((scene_top - 2 * margin) // max(1, refs), scene_top // 3)) if refs else 0
    thumb_w = max(8, min(thumb_h * 4 // 3, w // 5)) if refs else 0
    text_w = w - 2 * margin - (thumb_w + margin if refs else 0)
    chars = max(16, int(text_w / (line_h * 0.52)))
    lines = textwrap.wrap(spec.prompt, width=chars)[
        : max(1, (scene_top - margin * 3 - title_size) // line_h - 2)
    ]
    y = margin + title_size + margin // 2
    for line in lines:
        draw.text((margin, y), line, fill=(240, 240, 240), font=body)
        y += line_h
    info = f"seed {spec.seed}   {w}x{h}   {spec.duration} s   {'audio' if spec.audio else 'no audio'}"
    draw.text((margin, y + line_h // 2), info, fill=bright, font=body)
    # Reference images as thumbnails along the right edge of the text band.
    for i, ref in enumerate(spec.references):
        thumb = _fit(ref.data, thumb_w, thumb_h - 4) if ref.data is not None else None
        thumb = thumb or _placeholder(ref.label, thumb_w, thumb_h - 4)
        img.paste(thumb, (w - thumb_w - margin, margin + i * thumb_h))
    # Static part of the frame counter; digits are blitted per frame.
    counter_size = max(10, min(w, h) // 28)
    counter_font = _font(counter_size)
    label = "frame "
    label_w = int(draw.textlength(label, font=counter_font))
    # Even sizes: glyphs go through yuv420p, which halves both dimensions.
    glyph_w = (int(max(draw.textlength(str(d), font=counter_font) for d in range(10))) + 2) // 2 * 2
    glyph_h = (counter_size + counter_size // 3) // 2 * 2
    bar_h = max(4, (h // 60) // 2 * 2)
    # In the static text band: the strip below it pans, and the counter must not.
    cy = (min(scene_top - glyph_h - 4, y + 2 * line_h) // 2) * 2
    box = (margin - 4, cy - 2, margin + label_w + glyph_w * 4 + 4, cy + glyph_h + 2)
    draw.rectangle(box, fill=(0, 0, 0))
    draw.text((margin, cy), label, fill=(255, 255, 255), font=counter_font)
    base = _to_yuv(np.asarray(img))
    digits = np.zeros((10, glyph_h, glyph_w), np.uint8)
    for d in range(10):
        glyph = Image.new("RGB", (glyph_w, glyph_h), (0, 0, 0))
        ImageDraw.Draw(glyph).text((0, 0), str(d), fill=(255, 255, 255), font=counter_font)
        digits[d] = _to_yuv(np.asarray(glyph))[:glyph_h]
    square = max(8, (min(w, h) // 8) // 2 * 2)
    return _Scene(
        base=base,
        scene_top=scene_top,
        square=square,
        square_yuv=_rgb_to_yuv_triplet(bright),
        digits=digits,
        counter_xy=(margin + label_w, cy),
        bar_rows=(h - bar_h, h),
    )


# ---- per-frame composition ---------------------------------------------------------------


class _Composer:
    """Writes frame ``i`` into one reusable yuv420p buffer."""

    def __init__(self, spec: RenderSpec, scene: _Scene) -> None:
        self.spec, self.scene = spec, scene
        self.w, self.h = spec.width, spec.height
        self.frames = spec.duration * FPS
        self.buf = np.empty_like(scene.base)
        rng = random.Random(f"motion:{spec.seed}")
        self.phase = (rng.uniform(0, 6.283), rng.uniform(0, 6.283))
        self.freq = (rng.uniform(0.15, 0.4), rng.uniform(0.2, 0.5))  # cycles per second
        self.pan_per_frame = 0 if spec.camera_fixed else 2 * rng.randint(1, 3)

    def _planes(self, arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        h, w = self.h, self.w
        y = arr[:h]
        # PyAV's yuv420p array is the Y plane, then U and V flat one after the other; a
        # chroma plane need not fill whole rows of w (834 high: 417 chroma rows).
        flat = arr.reshape(-1)
        chroma = (h // 2) * (w // 2)
        u = flat[h * w : h * w + chroma].reshape(h // 2, w // 2)
        v = flat[h * w + chroma :].reshape(h // 2, w // 2)
        return y, u, v

    def compose(self, i: int) -> np.ndarray:
        sc, h, w = self.scene, self.h, self.w
        buf = self.buf
        by, bu, bv = self._planes(sc.base)
        y, u, v = self._planes(buf)
        top = sc.scene_top
        y[:top] = by[:top]
        u[: top // 2] = bu[: top // 2]
        v[: top // 2] = bv[: top // 2]
        shift = (i * self.pan_per_frame) % w // 2 * 2
        for dst, src, s in (
            (y[top:], by[top:], shift),
            (u[top // 2 :], bu[top // 2 :], shift // 2),
            (v[top // 2 :], bv[top // 2 :], shift // 2),
        ):
            if s:
                dst[:, :-s] = src[:, s:]
                dst[:, -s:] = src[:, :s]
            else:
                dst[:] = src
        # The moving square: a Lissajous path inside the scene strip.
        t = i / FPS
        side = sc.square
        x0 = int((np.sin(6.283 * self.freq[0] * t + self.phase[0]) * 0.5 + 0.5) * (w - side)) // 2 * 2
        span = max(2, h - top - side - (sc.bar_rows[1] - sc.bar_rows[0]))
        y0 = top + int((np.sin(6.283 * self.freq[1] * t + self.phase[1]) * 0.5 + 0.5) * span) // 2 * 2
        sy, su, sv = sc.square_yuv
        y[y0 : y0 + side, x0 : x0 + side] = sy
        u[y0 // 2 : (y0 + side) // 2, x0 // 2 : (x0 + side) // 2] = su
        v[y0 // 2 : (y0 + side) // 2, x0 // 2 : (x0 + side) // 2] = sv
        # Progress bar along the bottom edge.
        r0, r1 = sc.bar_rows
        filled = (w * (i + 1) // self.frames) // 2 * 2
        y[r0:r1] = 40
        y[r0:r1, :filled] = 220
        u[r0 // 2 : r1 // 2] = 128
        v[r0 // 2 : r1 // 2] = 128
        # Frame counter (Y only: the box under it is black, so chroma is neutral already).
        cx, cy = sc.counter_xy
        gh, gw = sc.digits.shape[1:]
        for k, ch in enumerate(f"{i:04d}"):
            y[cy : cy + gh, cx + k * gw : cx + (k + 1) * gw] = sc.digits[int(ch)]
        return buf


def _blend(a: np.ndarray, b: np.ndarray, weight_a: float, out: np.ndarray) -> np.ndarray:
    """out = a * weight_a + b * (1 - weight_a), in integer arithmetic."""
    wa = round(weight_a * 256)
    mixed = (a.astype(np.uint16) * wa + b.astype(np.uint16) * (256 - wa) + 128) >> 8
    np.copyto(out, mixed, casting="unsafe")
    return out


# ---- audio ---------------------------------------------------------------------------------


def _soundtrack(spec: RenderSpec) -> np.ndarray:
    """(2, duration * 48000) float32: a seeded pentatonic tune over a soft drone."""
    rng = random.Random(f"audio:{spec.seed}")
    n = spec.duration * SAMPLE_RATE
    t = np.arange(n, dtype=np.float32) / SAMPLE_RATE
    root = 110.0 * 2 ** (rng.randint(0, 11) / 12)
    out = 0.05 * np.sin(2 * np.pi * root * t, dtype=np.float32)
    scale = (0, 2, 4, 7, 9, 12, 14, 16)
    start = 0
    while start < n:
        length = int(SAMPLE_RATE * rng.choice((0.25, 0.25, 0.5)))
        end = min(n, start + length)
        freq = root * 2 * 2 ** (rng.choice(scale) / 12)
        seg = t[: end - start]
        out[start:end] += 0.18 * np.sin(2 * np.pi * freq * seg) * np.exp(-seg * 6.0)
        start = end
    pan = rng.uniform(0.3, 0.7)
    return np.stack([out * (1 - pan) * 2, out * pan * 2]).astype(np.float32).clip(-1, 1)


# ---- encoding ------------------------------------------------------------------------------


def render_mp4(spec: RenderSpec, dest: Path, *, last_frame: Path | None = None) -> Path:
    """Render ``spec`` into ``dest`` (written to a temporary file, then renamed into place).

    With ``last_frame``, the clip's last frame is also saved there as a PNG (the frame as it
    went into the encoder: the decoded video's last frame differs only by compression).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".render-", suffix=".mp4", dir=dest.parent)
    os.close(fd)
    try:
        final = _encode(spec, Path(tmp_name))
        if last_frame is not None:
            _save_png(final, last_frame)
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return dest


def _save_png(yuv: np.ndarray, dest: Path) -> None:
    """A yuv420p frame as an RGB PNG at ``dest`` (atomically)."""
    rgb = av.VideoFrame.from_ndarray(yuv, format="yuv420p").to_ndarray(format="rgb24")
    fd, tmp_name = tempfile.mkstemp(prefix=".frame-", suffix=".png", dir=dest.parent)
    os.close(fd)
    try:
        Image.fromarray(rgb, "RGB").save(tmp_name, format="PNG", compress_level=1)
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _encode(spec: RenderSpec, path: Path) -> np.ndarray:
    """Encode the clip into ``path``; returns a copy of its last frame (yuv420p)."""
    w, h = spec.width, spec.height
    scene = _draw_scene(spec)
    composer = _Composer(spec, scene)
    first = _frame_image(spec.first_frame, w, h) if spec.first_frame else None
    last = _frame_image(spec.last_frame, w, h) if spec.last_frame else None
    blended = np.empty_like(scene.base)
    total = composer.frames
    final = scene.base
    options = {"movflags": "+faststart", "fflags": "+bitexact"}
    with av.open(str(path), mode="w", format="mp4", options=options) as container:
        video = container.add_stream(
            "libx264",
            rate=FPS,
            options={"preset": spec.preset, "crf": str(CRF), "threads": str(X264_THREADS)},
        )
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.codec_context.time_base = Fraction(1, FPS)
        audio_stream = None
        samples = None
        if spec.audio:
            audio_stream = container.add_stream("aac", rate=SAMPLE_RATE, layout="stereo")
            samples = _soundtrack(spec)
        audio_pos = 0
        for i in range(total):
            arr = composer.compose(i)
            if first is not None and i < FADE_FRAMES:
                arr = _blend(first, arr, 1.0 - i / FADE_FRAMES, blended)
            if last is not None and i > total - 1 - FADE_FRAMES:
                arr = _blend(last, arr, 1.0 - (total - 1 - i) / FADE_FRAMES, blended)
            if i == total - 1:
                final = arr.copy()
            frame = av.VideoFrame.from_ndarray(arr, format="yuv420p")
            frame.pts = i
            frame.time_base = Fraction(1, FPS)
            container.mux(video.encode(frame))
            if audio_stream is not None and samples is not None:
                # Keep audio level with video so the muxer interleaves without buffering it all.
                until = min(samples.shape[1], (i + 1) * SAMPLE_RATE // FPS)
                audio_pos = _encode_audio(container, audio_stream, samples, audio_pos, until)
        container.mux(video.encode(None))
        if audio_stream is not None and samples is not None:
            _encode_audio(container, audio_stream, samples, audio_pos, samples.shape[1])
            container.mux(audio_stream.encode(None))
    return final


def _encode_audio(
    container: av.container.OutputContainer,
    stream: av.audio.stream.AudioStream,
    samples: np.ndarray,
    pos: int,
    until: int,
) -> int:
    chunk = stream.codec_context.frame_size or 1024
    while pos < until:
        piece = np.ascontiguousarray(samples[:, pos : pos + chunk])
        frame = av.AudioFrame.from_ndarray(piece, format="fltp", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = pos
        frame.time_base = Fraction(1, SAMPLE_RATE)
        container.mux(stream.encode(frame))
        pos += piece.shape[1]
    return pos

"""Recording media: silence as a valid WAV or MP3, generated as it is sent."""

from __future__ import annotations

import struct
from collections.abc import Iterator

WAV_RATE = 8000  # Twilio records 8 kHz mono, 16-bit PCM
CHUNK = 16_000

# MPEG-1 Layer III, 32 kbit/s, 32 kHz, mono, no CRC, no padding: 144 bytes per frame of 1152
# samples. Side information all zero: every granule is empty, which decoders play as silence.
MP3_FRAME = bytes([0xFF, 0xFB, 0x18, 0xC0]) + bytes(140)
MP3_FRAMES_PER_SECOND = 32_000 / 1152


def wav_size(seconds: int) -> int:
    return 44 + seconds * WAV_RATE * 2


def wav_stream(seconds: int) -> Iterator[bytes]:
    """A RIFF/WAVE file of ``seconds`` of 16-bit mono silence, in chunks."""
    data_size = seconds * WAV_RATE * 2
    yield struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + data_size, b"WAVE",
        b"fmt ", 16, 1, 1, WAV_RATE, WAV_RATE * 2, 2, 16,
        b"data", data_size,
    )
    remaining = data_size
    silence = bytes(CHUNK)
    while remaining > 0:
        size = min(CHUNK, remaining)
        yield silence[:size]
        remaining -= size


def mp3_frames(seconds: int) -> int:
    return max(1, round(seconds * MP3_FRAMES_PER_SECOND))


def mp3_size(seconds: int) -> int:
    return mp3_frames(seconds) * len(MP3_FRAME)


def mp3_stream(seconds: int) -> Iterator[bytes]:
    """An MP3 of ``seconds`` of silence: a run of empty Layer III frames, in chunks."""
    frames = mp3_frames(seconds)
    per_chunk = CHUNK // len(MP3_FRAME)
    while frames > 0:
        count = min(per_chunk, frames)
        yield MP3_FRAME * count
        frames -= count

"""Video files through PyAV (FFmpeg): read frames, frame rate and frame count; write H.264 mp4.

Frames are (H, W, 3) uint8 RGB arrays. A file FFmpeg cannot read, or one without frames, is a
UserError naming it.
"""
import contextlib
import os
import re
from fractions import Fraction
from typing import NamedTuple

import av
import numpy as np

from .errors import UserError

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm')


def natural_key(text):
    """Sort key that orders embedded numbers by value: frame2.png before frame10.png."""
    # re.split with a group alternates text and digits, so the i-th items of two keys have one type
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r'(\d+)', text)]


def is_video_file(path):
    return path.lower().endswith(VIDEO_EXTENSIONS)


@contextlib.contextmanager
def video_errors(path):
    """Turn FFmpeg's errors inside the block into a UserError naming path."""
    try:
        yield
    except av.FFmpegError as err:
        reason = getattr(err, 'strerror', None) or str(err)
        raise UserError(f'{path}: cannot be decoded as a video ({reason}); replace or remove it') from None


@contextlib.contextmanager
def open_video(path):
    """An open PyAV container of path that has a video stream."""
    with video_errors(path):
        container = av.open(path)
    with container:
        if not container.streams.video:
            raise UserError(f'{path}: holds no video stream (empty or cut short?); replace or remove it')
        yield container


class VideoInfo(NamedTuple):
    frames: int
    fps: Fraction  # frames per second
    width: int
    height: int


def video_info(path):
    """VideoInfo of path's first video stream. The count comes from the container's index, or from
    counting packets (no decoding) where the container keeps none (mkv, webm)."""
    with open_video(path) as container, video_errors(path):
        stream = container.streams.video[0]
        frames = stream.frames or sum(1 for packet in container.demux(stream) if packet.size)
        if not frames:
            raise UserError(f'{path}: holds no frames; replace or remove it')
        return VideoInfo(frames, stream.average_rate or stream.guessed_rate or Fraction(30),
                         stream.codec_context.width, stream.codec_context.height)


def read_video(path):
    """Yield every frame of path's first video stream, in order, as (H, W, 3) uint8 RGB."""
    count = 0
    with open_video(path) as container, video_errors(path):
        stream = container.streams.video[0]
        stream.thread_type = 'AUTO'  # FFmpeg decodes several frames at once on several cores
        for frame in container.decode(stream):
            count += 1
            yield frame.to_ndarray(format='rgb24')
    if not count:
        raise UserError(f'{path}: holds no frames; replace or remove it')


class VideoWriter:
    """Write (H, W, 3) uint8 RGB frames into an H.264 mp4 at `fps` frames per second.

    The stream takes its size from the first frame; yuv420p (what players expect) needs even sides,
    so an odd last row or column is repeated. The file appears, complete, when the writer closes
    without an error (it is written beside path first)."""

    def __init__(self, path, fps, crf=18):
        self.path, self.crf = path, crf
        self.fps = Fraction(fps).limit_denominator(100_000)
        self.partial = f'{path}.part'
        self.container = self.stream = None

    def write(self, frame):
        frame = np.pad(frame, ((0, frame.shape[0] % 2), (0, frame.shape[1] % 2), (0, 0)), mode='edge')
        with self.writing():
            if self.stream is None:
                os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
                self.container = av.open(self.partial, 'w', format='mp4')
                self.stream = self.container.add_stream('libx264', rate=self.fps)
                self.stream.height, self.stream.width = frame.shape[:2]
                self.stream.pix_fmt = 'yuv420p'
                self.stream.options = {'crf': str(self.crf)}
            self.container.mux(self.stream.encode(av.VideoFrame.from_ndarray(frame, format='rgb24')))

    def close(self):
        if self.container is None:
            raise UserError(f'{self.path}: no frames to write')
        with self.writing():
            self.container.mux(self.stream.encode())  # flush the frames the encoder holds back
            self.container.close()
            os.replace(self.partial, self.path)

    @contextlib.contextmanager
    def writing(self):
        """A failing write (a full disk: an OSError, from Python or from FFmpeg) is a one-line UserError."""
        try:
            yield
        except OSError as err:
            raise UserError(f'cannot write {self.path} ({err.strerror or err}): free some disk space or write '
                            f'elsewhere (--results_dir)') from None

    def __enter__(self):
        return self

    def __exit__(self, error_type, *_):
        if error_type is not None:
            self.discard()
            return
        try:
            self.close()
        except BaseException:
            self.discard()
            raise

    def discard(self):
        """Remove the partial file; a failure here (the disk that failed the write) must not hide that error."""
        if self.container is None:
            return
        with contextlib.suppress(OSError, ValueError):
            self.container.close()
        with contextlib.suppress(OSError):
            os.remove(self.partial)


def write_video(path, frames, fps, crf=18):
    """Write an iterable of (H, W, 3) uint8 RGB frames as an H.264 mp4."""
    with VideoWriter(path, fps, crf) as writer:
        for frame in frames:
            writer.write(frame)

"""Media input/output for the pipelines: conditioning images, control videos, mp4 output with
audio, probing and thumbnails, and a Canny edge extractor. Uses imageio-ffmpeg's bundled ffmpeg;
no UI code here."""

from ltx_core.media.canny import CannyTransform, canny, canny_video, edges_to_rgb
from ltx_core.media.errors import MediaError, MediaReadError, MediaWriteError, VideoTooShortError
from ltx_core.media.ffmpeg import VideoInfo, ffmpeg_exe, probe_video, thumbnail, thumbnail_png
from ltx_core.media.image import (
    DEFAULT_IMAGE_CRF,
    h264_roundtrip,
    load_image_conditioning,
    prepare_image,
    read_image,
    resize_and_center_crop,
)
from ltx_core.media.video_read import (
    iter_video_frames,
    load_video_conditioning,
    read_audio,
    read_video_frames,
    usable_frame_count,
)
from ltx_core.media.video_write import WrittenVideo, audio_to_pcm16, write_json_atomic, write_mp4

__all__ = [
    "DEFAULT_IMAGE_CRF",
    "CannyTransform",
    "MediaError",
    "MediaReadError",
    "MediaWriteError",
    "VideoInfo",
    "VideoTooShortError",
    "WrittenVideo",
    "audio_to_pcm16",
    "canny",
    "canny_video",
    "edges_to_rgb",
    "ffmpeg_exe",
    "h264_roundtrip",
    "iter_video_frames",
    "load_image_conditioning",
    "load_video_conditioning",
    "prepare_image",
    "probe_video",
    "read_audio",
    "read_image",
    "read_video_frames",
    "resize_and_center_crop",
    "thumbnail",
    "thumbnail_png",
    "usable_frame_count",
    "write_json_atomic",
    "write_mp4",
]

"""Write tests/data/media_resize_reference.npz with the official resize-and-crop of ltx-pipelines 1.0.0.

Records ``resize_and_center_crop`` + ``normalize_latent`` (the pixel path of
``load_image_conditioning`` / ``load_video_conditioning`` after decoding) for seeded random
uint8 images, upscaled and downscaled, to several target sizes, and the official ``preprocess``
(the crf 33 H.264 re-encode of a still image, through PyAV). Run it in the scratch environment
of tools/make_guider_reference.py plus ``pip install av`` (the module is loaded from the unpacked
wheel; Pillow is not needed and is stubbed):

    cd /tmp && /tmp/refenv/bin/python /path/to/tools/make_media_reference.py /tmp/ref/src \
        /path/to/tests/data/media_resize_reference.npz /path/to/tests/data/media_clip.mp4

The clip (written by our ``write_mp4``) is read with the official ``load_video_conditioning``
(PyAV decoding) at 48x80, 9 frames.
"""

import importlib.util
import sys
import types
from unittest import mock

import numpy as np
import torch

CASES = {  # name: (source height, width, channels-last frames or None, target height, width)
    "up_wide": (37, 53, None, 64, 96),
    "down_tall": (203, 91, None, 64, 32),
    "down_square_to_wide": (120, 120, None, 32, 96),
    "same_size": (48, 64, None, 48, 64),
    "odd_target": (50, 70, None, 33, 47),
    "video_3_frames": (45, 81, 3, 32, 64),
}


def load_media_io(src: str) -> types.ModuleType:
    sys.modules["PIL"] = mock.MagicMock()  # only decode_image uses it, and that is not called here
    for name in ("ltx_pipelines", "ltx_pipelines.utils"):
        sys.modules.setdefault(name, types.ModuleType(name))
    constants = types.ModuleType("ltx_pipelines.utils.constants")
    constants.DEFAULT_IMAGE_CRF = 33
    sys.modules["ltx_pipelines.utils.constants"] = constants
    spec = importlib.util.spec_from_file_location("media_io", f"{src}/ltx_pipelines/utils/media_io.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(src: str, out: str, clip: str) -> None:
    media_io = load_media_io(src)
    rng = np.random.default_rng(0)
    arrays = {}
    for name, (h, w, frames, th, tw) in CASES.items():
        shape = (h, w, 3) if frames is None else (frames, h, w, 3)
        image = rng.integers(0, 256, size=shape, dtype=np.uint8)
        tensor = media_io.resize_and_center_crop(torch.tensor(image, dtype=torch.float32), th, tw)
        result = media_io.normalize_latent(tensor, torch.device("cpu"), torch.float32)
        arrays[f"{name}/input"] = image
        arrays[f"{name}/output"] = result.numpy()
    y, x = np.mgrid[0:63, 0:81]  # odd size: the official crops to even before encoding
    ramp = np.dstack([x * 3, y * 4, (x + y) * 2]).clip(0, 255).astype(np.uint8)
    blocks = np.kron(rng.integers(0, 256, (6, 8, 3)), np.ones((16, 16, 1))).astype(np.uint8)
    for name, image in (("crf_ramp", ramp), ("crf_blocks", blocks)):
        arrays[f"{name}/input"] = image
        arrays[f"{name}/crf33"] = media_io.preprocess(image, 33)
    video = media_io.load_video_conditioning(clip, 48, 80, 9, torch.float32, torch.device("cpu"))
    arrays["clip/48x80x9"] = video.numpy()
    np.savez_compressed(out, **arrays)
    print(f"wrote {len(CASES)} resize cases 2 crf cases and a video to {out}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])

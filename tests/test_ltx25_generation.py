"""LTX-2.5 at the pipeline level, on the tiny 2.5 set: the diffusion video decoder under every
preset's tiling, automatic duration, and the version's image CRF and uint8 rounding."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltx_core.model.video_vae.diffusion import DiffusionDecoderConfig, DiffusionVideoDecoder
from ltx_core.model.video_vae.diffusion.tiling import tile_plan
from ltx_core.model.video_vae.tiled import to_uint8_frames
from ltx_core.model_paths import ModelPaths
from ltx_core.model_spec import LTX_2_0, LTX_2_3, LTX_2_5
from ltx_core.pipelines.blocks import decode_frames, decode_pixels, decode_tiling
from ltx_core.pipelines.distilled import DistilledPipeline
from ltx_core.pipelines.ledger import ModelLedger
from ltx_core.pipelines.request import GenerationRequest, ImageCondition, RequestError
from ltx_core.pipelines.runner import run_job
from ltx_core.presets import VaeTiling, load_presets
from ltx_core.runtime import RuntimeSettings
from tests.conftest import DEFAULT_SET, Reference
from tests.ltx25_helpers import ltx25_reference


@pytest.fixture(scope="module")
def ltx25() -> Reference:
    return ltx25_reference()


@pytest.fixture(scope="module")
def paths(ltx25: Reference) -> ModelPaths:
    return ModelPaths.from_folder(ltx25.directory)


# -- the diffusion decoder in the pipelines -------------------------------------------------------
@pytest.mark.parametrize("preset", sorted(p.name for p in load_presets()))
@pytest.mark.parametrize("config", ["tiny", "real"])
def test_every_preset_tiling_fits_the_diffusion_decoder(ltx25: Reference, paths: ModelPaths, preset: str, config: str):
    """The preset's conv VAE tiling, fitted to the decoder (tiny set's and the default/real
    geometry), gives a valid plan for a 768x512x121 video: overlaps >= ``min_overlaps``."""
    if config == "tiny":
        from ltx_core.loader.checkpoint import LTXCheckpoint
        from ltx_core.loader.diffusion_vae import diffusion_decoder_config

        decoder = DiffusionVideoDecoder(diffusion_decoder_config(LTXCheckpoint(paths.video_vae)))
    else:
        decoder = DiffusionVideoDecoder(DiffusionDecoderConfig())
    tiling = next(p for p in load_presets() if p.name == preset).vae_tiling
    fitted = decoder.fit_tiling(tiling)
    assert fitted.frames.overlap >= decoder.min_overlaps[0] and fitted.height.overlap >= decoder.min_overlaps[1]
    assert fitted.height.overlap >= tiling.spatial_overlap and fitted.frames.tile_size >= tiling.temporal_tile
    latent = (1, 128, 16, 16, 24)  # 768x512x121
    s4 = decoder._stage4_thw(latent[2:])
    tiles = tile_plan(s4, fitted, decoder.config.upsamples[3][0], decoder.patch, decoder.tile_min, decoder.min_overlaps)
    assert len(tiles) > 1
    assert decoder.fit_tiling(None) is None


def test_a_tiled_diffusion_decode_runs_through_the_pipeline_block(ltx25: Reference, paths: ModelPaths):
    """A preset-like tiling too small for the decoder is fitted, not refused; the tiles cover the
    video and the frames are the version's uint8 rounding of the pixels."""
    tiling = VaeTiling(spatial_tile=64, spatial_overlap=0, temporal_tile=16, temporal_overlap=8)
    ledger = ModelLedger(paths, RuntimeSettings.plain(vae_tiling=tiling))
    assert ledger.diffusion_decoder
    latent = mx.array(np.random.default_rng(3).standard_normal((1, 128, 3, 2, 4)).astype(np.float32))  # 17x64x128
    fitted = decode_tiling(ledger, ledger.video_decoder(), ledger.runtime.tiling_config())
    assert (fitted.height.tile_size, fitted.height.overlap, fitted.frames.tile_size, fitted.frames.overlap) == (64, 32, 16, 8)
    chunks = list(decode_pixels(ledger, latent, ledger.runtime.tiling_config(), seed=4))
    pixels = mx.concatenate(chunks, axis=2)
    assert len(chunks) > 1 and pixels.shape == (1, 3, 17, 64, 128) and bool(mx.all(mx.isfinite(pixels)))
    frames = np.concatenate(list(decode_frames(ledger, latent, ledger.runtime.tiling_config(), seed=4)))
    assert np.array_equal(frames, to_uint8_frames(pixels, "round"))
    assert "video_decoder" not in ledger.loaded()


def test_uint8_rounding_and_image_crf_come_from_the_version():
    assert (LTX_2_0.uint8_rounding, LTX_2_3.uint8_rounding, LTX_2_5.uint8_rounding) == ("truncate", "truncate", "round")
    assert (LTX_2_0.image_crf, LTX_2_3.image_crf, LTX_2_5.image_crf) == (33, 33, 18)
    pixels = mx.array(np.full((1, 3, 1, 2, 2), 2 * 100.6 / 255 - 1, dtype=np.float32))
    assert int(to_uint8_frames(pixels)[0, 0, 0, 0]) == 100 and int(to_uint8_frames(pixels, "round")[0, 0, 0, 0]) == 101
    request = GenerationRequest(prompt="x", images=(ImageCondition("a.png"), ImageCondition("b.png", 8, crf=0)), frames=9)
    assert [i.crf for i in request.with_image_crf(LTX_2_5).images] == [18, 0]
    assert [i.crf for i in request.with_image_crf(LTX_2_0).images] == [33, 0]


def test_prepare_gives_conditioning_images_the_version_crf(paths: ModelPaths, tmp_path: Path):
    from PIL import Image

    image = tmp_path / "still.png"
    Image.new("RGB", (128, 128), (90, 120, 30)).save(image)
    request = GenerationRequest(prompt="x", frames=9, height=128, width=128, images=(ImageCondition(str(image)),))
    prepared, _ = DistilledPipeline(ModelLedger(paths)).prepare(request, text_encoder=False)
    assert prepared.images[0].crf == 18


# -- automatic duration ---------------------------------------------------------------------------
def test_auto_duration_runs_end_to_end(ltx25: Reference, paths: ModelPaths, tmp_path: Path):
    """The typed prompt of the set's ``text`` case -> its contexts -> the duration head predicts
    ``duration_head/out/seconds``; the run has ``num_frames_clamped`` frames (at the e2e fps)."""
    prompt = bytes(ltx25["text/in/prompt_utf8"]).decode("utf-8")
    fps = float(json.loads((ltx25.directory / "manifest.json").read_text())["e2e"]["fps"])
    expected = int(ltx25["duration_head/out/num_frames_clamped"])
    seconds = float(ltx25["duration_head/out/seconds"][0])
    ledger = ModelLedger(paths)
    request = GenerationRequest(prompt=prompt, frames="auto", height=128, width=128, fps=fps, seed=2, generate_audio=False)
    record = run_job(ledger, "distilled", request, tmp_path / "auto.mp4")
    from ltx_core.media import probe_video

    assert probe_video(record.video).frames == expected
    notice = next(n for n in record.notices if n.startswith("auto length"))
    assert f"{seconds:.2f} s" in notice and f"{expected} frames" in notice
    settings = json.loads(record.sidecar.read_text())["settings"]
    assert settings["request"]["frames"] == expected
    assert settings["request"]["auto_duration"]["frames"] == expected
    assert abs(settings["request"]["auto_duration"]["predicted_seconds"] - seconds) < 1e-3
    assert ledger.loaded() == []


def test_auto_duration_without_a_duration_head_is_refused_before_loading(paths: ModelPaths, tmp_path: Path):
    ledger = ModelLedger(replace(paths, duration_head=None))
    request = GenerationRequest(prompt="a cat", frames="auto", height=128, width=128)
    with pytest.raises(RequestError, match="automatic duration needs the duration head .* is not configured"):
        run_job(ledger, "distilled", request, tmp_path / "x.mp4")
    assert not any(e.startswith("load") for e in ledger.events)
    other = replace(paths, duration_head=paths.audio_vae)  # a file without duration-head weights
    with pytest.raises(RequestError, match="holds no duration head"):
        DistilledPipeline(ModelLedger(other)).prepare(request)


def test_auto_duration_on_a_version_without_a_head_is_refused(tmp_path: Path):
    ledger = ModelLedger(
        ModelPaths(DEFAULT_SET / "ltx2-tiny.safetensors", spatial_upsampler=DEFAULT_SET / "ltx2-tiny-spatial-upsampler.safetensors")
    )
    request = GenerationRequest(prompt="a cat", frames="auto", height=128, width=128)
    with pytest.raises(RequestError, match=r"^LTX-2 has no duration head, so the length cannot be left on auto"):
        run_job(ledger, "distilled", request, tmp_path / "x.mp4")
    assert ledger.events == []


def test_frames_auto_on_the_command_line():
    import argparse

    from ltx_core.cli_generate import _frames

    assert _frames("auto") == "auto" and _frames("AUTO") == "auto" and _frames("121") == 121
    with pytest.raises(argparse.ArgumentTypeError, match="whole number"):
        _frames("long")
    with pytest.raises(RequestError, match="frames must be 8k\\+1 or 'auto'"):
        GenerationRequest(prompt="x", frames="soon").validate(32)


# -- memory ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("bits, first, last", [(8, 1e-2, 0.5), (4, 0.15, 1.5)])
def test_quantized_gemma4_stays_close(ltx25: Reference, paths: ModelPaths, bits: int, first: float, last: float):
    """8/4-bit Gemma 4 quantized while loading, against the official float32 hidden states. The
    embeddings' error is the quantization's own; the tiny random-weight model then amplifies it
    about x1.5-2 per layer (float32: 2.6e-6 after 6 layers), so the last state gets a looser bound."""
    from ltx_core.loader.gemma4 import load_gemma4
    from tests.parity import relative_max_error

    ids, mask = mx.array(ltx25["text/in/input_ids"]), mx.array(ltx25["text/in/attention_mask"])
    real = np.asarray(ltx25["text/in/attention_mask"])[0] > 0
    model = load_gemma4(paths.text_encoder, quantize_bits=bits, group_size=32)
    assert type(model.layers[0].mlp.down_proj).__name__ == "QuantizedLinear"
    assert type(model.layers[-1].self_attn.k_proj).__name__ == "QuantizedLinear"  # a full-attention layer
    assert type(model.embed_tokens).__name__ == "QuantizedEmbedding"
    states = model.hidden_states(ids, mask)
    ref = ltx25["text/out/hidden_states"]
    errors = [relative_max_error(np.asarray(s)[0][real], ref[i][real]) for i, s in enumerate(states)]
    print(f"QUANTIZED {bits}-bit Gemma 4 hidden-state relative errors: {[f'{e:.2e}' for e in errors]}")
    assert 1e-6 < errors[0] < first and max(errors) < last  # really quantized, still close


def test_text_stage_uses_the_gemma4_estimate(paths: ModelPaths):
    from ltx_core.loader.gemma4 import load_gemma4
    from ltx_core.memory.estimate import text_encoder_stage
    from ltx_core.model.text_encoder.memory import (
        estimate_encode_memory,
        estimate_gemma4_encode_memory,
        gemma4_12b_config,
        gemma4_weight_bytes,
        gemma_12b_config,
    )
    from mlx.utils import tree_flatten

    ledger = ModelLedger(paths)
    config = ledger.gemma_config()
    for bits, mode in ((None, "float32"), (8, "8bit"), (4, "4bit")):
        model = load_gemma4(paths.text_encoder, quantize_bits=bits, group_size=32)
        measured = sum(v.nbytes for _, v in tree_flatten(model.parameters()))
        assert gemma4_weight_bytes(config, mode, 32, "float32") == pytest.approx(measured, rel=0.02), mode
    stage = text_encoder_stage(ledger.model_config, config, "bfloat16", None)
    assert stage.notes.startswith("Gemma 4 bfloat16")
    big = gemma4_12b_config()
    bf16 = estimate_gemma4_encode_memory(big, 1024, "bfloat16")
    assert 22e9 < bf16.weights < 25e9  # + the 2.3-width projection: the ~26 GB file
    assert estimate_gemma4_encode_memory(big, 1024, "4bit").weights < 0.3 * bf16.weights
    assert bf16.weights != estimate_encode_memory(gemma_12b_config(), 1024, "bfloat16").weights
    default = text_encoder_stage({"transformer": {"use_keyframes_abs_pos_embedding": True}}, None, "bfloat16", None)
    assert default.notes.startswith("Gemma 4 bfloat16")


@pytest.mark.parametrize("size, tiling", [((17, 256, 256), None), ((9, 192, 288), VaeTiling(192, 96, 16, 8))])
def test_diffusion_decode_stage_is_predicted(paths: ModelPaths, size: tuple, tiling):
    """The estimator's diffusion decode stage against the measured peak of the tiny decoder."""
    from ltx_core.loader.checkpoint import LTXCheckpoint
    from ltx_core.loader.diffusion_vae import load_diffusion_video_decoder
    from ltx_core.memory.decode import diffusion_decode_stage
    from ltx_core.model.video_vae.diffusion.decode import decode_diffusion_video

    frames, height, width = size
    decoder = load_diffusion_video_decoder(paths.video_vae)
    latent = mx.random.normal((1, 128, (frames - 1) // 8 + 1, height // 32, width // 32), key=mx.random.key(0))
    mx.eval(latent)
    mx.clear_cache()
    mx.reset_peak_memory()
    for _ in decode_diffusion_video(latent, decoder, decoder.fit_tiling(tiling), key=mx.random.key(1)):
        pass
    measured = mx.get_peak_memory()
    predicted = diffusion_decode_stage(LTXCheckpoint(paths.video_vae).section("vae"), frames, height, width, "float32", tiling)
    print(f"MEMORY diffusion decode {width}x{height}x{frames} tiled={tiling is not None}: predicted/measured {predicted.peak / measured:.2f}")
    assert 0.9 <= predicted.peak / measured <= 1.4

"""The MLX transformer against every ``transformer*`` case of the reference fixtures.

Every model is built from the fixture checkpoint's own config; perturbations are read from
the case name; every ``out/`` and ``debug/`` array of a case must be compared.
"""

from __future__ import annotations

import re
from functools import lru_cache

import mlx.core as mx

from ltx_core.loader import load_transformer
from ltx_core.model.transformer import (
    BatchedPerturbations,
    Modality,
    Perturbation,
    PerturbationType,
    X0Model,
)
from tests.conftest import Reference
from tests.model_files import transformer_file
from tests.parity import DOWNSTREAM_OF_ROPE, ROPE_TABLE_ABSOLUTE, check_absolute, check_parity


def covers(case: str) -> bool:
    return case.startswith("transformer")


@lru_cache(maxsize=4)
def model_for(path: str, with_audio: bool, dtype_name: str = "float32"):
    return load_transformer(path, dtype=dtype_name, with_audio=with_audio)


def perturbations_for(case: str, reference: Reference | None = None) -> BatchedPerturbations:
    stg = re.search(r"_stg_block(\d+)$", case)
    block_key = f"{case}/in/block"
    if stg or (case.endswith("_stg") and reference is not None and block_key in reference):
        block = (int(stg.group(1)) if stg else int(reference[block_key]),)
        return BatchedPerturbations.same(
            1,
            Perturbation(PerturbationType.SKIP_VIDEO_SELF_ATTN, block),
            Perturbation(PerturbationType.SKIP_AUDIO_SELF_ATTN, block),
        )
    if case.endswith("_no_av_crossattn"):
        return BatchedPerturbations.same(
            1, Perturbation(PerturbationType.SKIP_A2V_CROSS_ATTN), Perturbation(PerturbationType.SKIP_V2A_CROSS_ATTN)
        )
    if case in ("transformer_av", "transformer_video", "transformer_av_nokeyframes") or case.endswith("_mixed"):
        return BatchedPerturbations.none(1)
    raise AssertionError(f"fixture case {case!r} has a variant this test does not know; add it")


def modality(reference: Reference, case: str, stream: str, dtype=mx.float32) -> Modality | None:
    if f"{case}/in/{stream}_latent" in reference or case.startswith("transformer_av_") and reference.version == "2.5":
        return flat_modality(reference, case, stream, dtype)
    prefix = f"{case}/in/{stream}/"
    if f"{prefix}latent" not in reference:
        return None

    def get(name):
        return mx.array(reference[prefix + name])

    return Modality(
        latent=get("latent").astype(dtype),
        sigma=get("sigma"),
        timesteps=get("timesteps"),
        positions=get("positions"),
        context=get("context").astype(dtype),
    )


def flat_modality(reference: Reference, case: str, stream: str, dtype=mx.float32) -> Modality:
    """The 2.5 layout: ``in/<stream>_<field>`` (variants reuse ``transformer_av``'s inputs),
    contexts from the ``text`` case, the keyframes mask when the case has one."""
    own = f"{case}/in/{stream}_latent" in reference
    source = case if own else "transformer_av"

    def get(name):
        return mx.array(reference[f"{source}/in/{stream}_{name}"])

    keyframes = f"{case}/in/{stream}_keyframes_mask"
    if not own and case != "transformer_av_nokeyframes":
        keyframes = f"transformer_av/in/{stream}_keyframes_mask"
    return Modality(
        latent=get("latent").astype(dtype),
        sigma=get("sigma"),
        timesteps=get("timesteps"),
        positions=get("positions"),
        context=mx.array(reference[f"text/out/{stream}_context"]).astype(dtype),
        keyframes_mask=mx.array(reference[keyframes]) if keyframes in reference else None,
    )


def run_case(reference: Reference, case: str, dtype_name: str = "float32"):
    dtype = getattr(mx, dtype_name)
    video = modality(reference, case, "video", dtype)
    audio = modality(reference, case, "audio", dtype)
    model = model_for(str(transformer_file(reference)), True, dtype_name)
    blocks = {}

    def record(index, v_state, a_state):
        blocks[f"block{index}_video_x"] = blocks[f"block{index}_video_hidden"] = v_state.x
        if a_state is not None:
            blocks[f"block{index}_audio_x"] = blocks[f"block{index}_audio_hidden"] = a_state.x

    perturbations = perturbations_for(case, reference)
    v_vel, a_vel = model(video, audio, perturbations, on_block_end=record)
    outputs = {"video_velocity": v_vel}
    v_x0, a_x0 = X0Model(model)(video, audio, perturbations)
    outputs["video_denoised"] = v_x0
    if audio is not None:
        outputs["audio_velocity"] = a_vel
        outputs["audio_denoised"] = a_x0
    return model, video, audio, outputs, blocks


def test_transformer_case(reference: Reference, case: str):
    model, video, audio, outputs, blocks = run_case(reference, case)
    out_keys = reference.keys_of(case, "out")
    assert out_keys, f"{case} has no outputs"
    for key in out_keys:
        name = key.rsplit("/", 1)[1]
        if name == "video_velocity_videoonly_model":
            video_only = model_for(str(transformer_file(reference)), False)
            ours = video_only(video, None)[0]
        else:
            assert name in outputs, f"{key}: an output this test does not compute"
            ours = outputs[name]
        check_parity(key, ours, reference[key], DOWNSTREAM_OF_ROPE)

    debug_keys = reference.keys_of(case, "debug")
    if debug_keys:
        debug = debug_values(model, video, audio, blocks)
        for key in debug_keys:
            name = key.rsplit("/", 1)[1]
            assert name in debug, f"{key}: a debug array this test does not compute"
            if "rope_" in name:
                check_absolute(key, debug[name], reference[key], ROPE_TABLE_ABSOLUTE)
            else:
                check_parity(key, debug[name], reference[key], DOWNSTREAM_OF_ROPE)


def debug_values(model, video: Modality, audio: Modality | None, blocks: dict) -> dict:
    values = dict(blocks)
    for stream, (mine, other) in {"video": (video, audio), "audio": (audio, video)}.items():
        if mine is None:
            continue
        state = model.prepare(mine, other, stream)
        values[f"{stream}_x_in"] = state.x
        values[f"{stream}_patchify_proj"] = getattr(model, stream).patchify_proj(mine.latent)
        if "keyframes_abs_pos_embedding" in getattr(model, stream):
            values["keyframes_abs_pos_embedding"] = getattr(model, stream).keyframes_abs_pos_embedding
        values[f"{stream}_context"] = state.context
        values[f"{stream}_adaln_timestep"] = state.modulation.expanded()
        values[f"{stream}_embedded_timestep"] = state.embedded_timestep.expanded()
        values[f"{stream}_rope_cos"] = state.rope.cos
        values[f"{stream}_rope_sin"] = state.rope.sin
        if state.prompt_modulation is not None:  # cross-attention AdaLN (2.3)
            values[f"{stream}_prompt_adaln_timestep"] = state.prompt_modulation
        if state.cross_rope is not None:
            values[f"{stream}_cross_rope_cos"] = state.cross_rope.cos
            values[f"{stream}_cross_rope_sin"] = state.cross_rope.sin
            values[f"{stream}_cross_scale_shift_timestep"] = state.cross_scale_shift
            values[f"{stream}_cross_gate_timestep"] = state.cross_gate
    batch_tokens = {
        k: v
        for k, v in values.items()
        if k.endswith(("_adaln_timestep", "_embedded_timestep")) and "_prompt_" not in k
    }
    for key, value in batch_tokens.items():  # shared timestep -> broadcast to every token like the reference
        stream = key.split("_", 1)[0]
        tokens = values[f"{stream}_x_in"].shape[1]
        values[key] = mx.broadcast_to(value, (value.shape[0], tokens, value.shape[-1]))
    return values


def test_audio_only_forward_equals_av_forward_without_v2a(reference: Reference):
    """With video absent the audio stream sees no video; that equals skipping V2A everywhere."""
    case = "transformer_av"
    video, audio = modality(reference, case, "video"), modality(reference, case, "audio")
    model = model_for(str(transformer_file(reference)), True)
    none_video, audio_only = model(None, audio)
    assert none_video is None
    skip_v2a = BatchedPerturbations.same(1, Perturbation(PerturbationType.SKIP_V2A_CROSS_ATTN))
    _, audio_with_video = model(video, audio, skip_v2a)
    check_parity(f"{case}/audio_only_vs_skip_v2a", audio_only, audio_with_video, 1e-6)

"""The MLX audio VAE and vocoder against every ``audio_vae*`` and ``vocoder*`` fixture case.

Models are built from the fixture checkpoint's own config; the component a case runs is read
from its name and every ``out/`` array of a case must be compared. ``decode_audio`` is also
checked against the end-to-end case's waveform when the fixtures have one.
"""

from __future__ import annotations

from functools import lru_cache

import mlx.core as mx
import numpy as np
import pytest

from ltx_core.loader.audio_vae import load_audio_decoder, load_audio_encoder, load_vocoder
from ltx_core.model.audio_vae import VocoderWithBWE, decode_audio
from tests.conftest import Reference
from tests.model_files import audio_vae_file
from tests.parity import TOLERANCE, check_parity

E2E_LATENT, E2E_WAVEFORM = "e2e_distilled/out/audio_latent", "e2e_distilled/out/waveform"


def covers(case: str) -> bool:
    return case.startswith(("audio_vae", "vocoder")) or case == "audio_decode"


@lru_cache(maxsize=6)
def component(path: str, kind: str):
    return {"decoder": load_audio_decoder, "encoder": load_audio_encoder, "vocoder": load_vocoder}[kind](path)


def run_case(reference: Reference, case: str) -> dict[str, mx.array]:
    path = str(audio_vae_file(reference))
    get = lambda name: mx.array(reference[f"{case}/in/{name}"])  # noqa: E731
    if case.startswith("audio_vae_decode"):
        return {"mel": component(path, "decoder")(get("latent"))}
    if case.startswith("audio_vae_encode"):
        return {"latent": component(path, "encoder")(get("mel"))}
    if case == "audio_decode":  # the official decode_audio on the audio_vae_decode case's latent
        latent = mx.array(reference["audio_vae_decode/in/latent"])
        return {"waveform": decode_audio(latent, component(path, "decoder"), component(path, "vocoder")).waveform}
    if case.startswith("vocoder"):
        vocoder = component(path, "vocoder")
        if isinstance(vocoder, VocoderWithBWE):  # every stage, for the case's debug arrays
            stages = vocoder.stages(get("mel"))
            return {**stages, "base_waveform_16k": stages["inner_waveform"]}  # the 2.5 set's name
        return {"waveform": vocoder(get("mel"))}
    raise AssertionError(f"fixture case {case!r} has a variant this test does not know; add it")


def test_audio_case(reference: Reference, case: str):
    outputs = run_case(reference, case)
    out_keys = reference.keys_of(case, "out")
    assert out_keys, f"{case} has no outputs"
    for key in out_keys:
        name = key.rsplit("/", 1)[1]
        assert name in outputs, f"{key}: an output this test does not compute"
        check_parity(key, outputs[name], reference[key])
    for key in reference.keys_of(case, "debug"):
        name = key.rsplit("/", 1)[1]
        assert name in outputs, f"{key}: a debug array this test does not compute"
        check_parity(key, outputs[name], reference[key])


def test_output_shapes_follow_the_config(reference: Reference):
    path = str(audio_vae_file(reference))
    decoder, encoder, vocoder = (component(path, kind) for kind in ("decoder", "encoder", "vocoder"))
    cfg = decoder.config
    latent = mx.zeros((1, cfg.z_channels, 5, cfg.latent_mel_bins))
    mel = decoder(latent)
    assert mel.shape == (1, cfg.out_ch, cfg.decoded_frames(5), cfg.mel_bins)
    assert encoder(mel).shape == (1, cfg.z_channels, cfg.latent_frames(mel.shape[2]), cfg.latent_mel_bins)
    assert vocoder(mel).shape == (1, 2, vocoder.output_length(mel.shape[2]))


def test_batch_items_are_independent(reference: Reference):
    """A batch of two (reference input and a scaled copy) equals the two single runs."""
    case = next((c for c in reference.cases() if c.startswith("audio_vae_decode")), None)
    if case is None:
        pytest.skip("no audio_vae_decode case in these fixtures")
    path = str(audio_vae_file(reference))
    latent = mx.array(reference[f"{case}/in/latent"][:1])
    batch = mx.concatenate([latent, 0.5 * latent], axis=0)
    decoder, vocoder = component(path, "decoder"), component(path, "vocoder")
    audio = decode_audio(batch, decoder, vocoder)
    assert audio.waveform.ndim == 3 and audio.waveform.shape[0] == 2
    # Batched and single runs differ only in BLAS blocking; two generators in a row (LTX-2.3)
    # grow that rounding to ~1.5e-5, so they get the parity tolerance.
    tolerance = TOLERANCE if isinstance(vocoder, VocoderWithBWE) else 1e-5
    for index, single in enumerate((latent, 0.5 * latent)):
        alone = decode_audio(single, decoder, vocoder).waveform
        check_parity(f"{case}/batch_item{index}_vs_single", audio.waveform[index], alone, tolerance)


def test_decode_audio_matches_the_e2e_waveform(reference: Reference):
    if E2E_LATENT not in reference or E2E_WAVEFORM not in reference:
        pytest.skip("no end-to-end audio in these fixtures")
    path = str(audio_vae_file(reference))
    audio = decode_audio(mx.array(reference[E2E_LATENT]), component(path, "decoder"), component(path, "vocoder"))
    assert audio.sampling_rate == component(path, "vocoder").config.output_sampling_rate
    assert audio.waveform.dtype == mx.float32
    check_parity(E2E_WAVEFORM, audio.waveform, reference[E2E_WAVEFORM])
    assert np.abs(np.array(audio.waveform)).max() <= 1.0


def test_mp4_audio_is_written_at_the_vocoder_rate(reference: Reference, tmp_path):
    """The rate of the muxed audio is the vocoder's (LTX-2.3: 48 kHz after bandwidth extension)."""
    from ltx_core.media import probe_video, write_mp4

    if E2E_LATENT not in reference:
        pytest.skip("no end-to-end audio latent in these fixtures")
    path = str(audio_vae_file(reference))
    vocoder = component(path, "vocoder")
    audio = decode_audio(mx.array(reference[E2E_LATENT]), component(path, "decoder"), vocoder)
    frames = np.zeros((9, 64, 64, 3), np.uint8)
    written = write_mp4(tmp_path / "clip.mp4", frames, 24.0, audio, sidecar=False)
    assert written.sample_rate == vocoder.output_sampling_rate == audio.sampling_rate
    assert probe_video(written.path).sample_rate == vocoder.output_sampling_rate

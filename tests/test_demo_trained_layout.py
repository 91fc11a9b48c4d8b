"""The trained demo family's own layout (issue 18): the real file layout and configs with sizes
that can learn, loadable by the normal loaders, within the size budget; the trainer's one-command
run and its progress lines."""

from __future__ import annotations

import json
from pathlib import Path

import mlx.core as mx
import pytest

from ltx_core.demo import CHECKPOINT, LAYOUT_PATH, TRAINED_LAYOUT_PATH, write_demo_set
from ltx_core.demo.train.__main__ import main as train_main
from ltx_core.demo.train.data import ClipGeometry
from ltx_core.demo.train.loop import TrainOptions, run
from ltx_core.demo.train.vae_stage import VAEStage
from ltx_core.loader import LTXCheckpoint, load_transformer
from ltx_core.loader.upsampler import load_upsampler
from ltx_core.loader.video_vae import load_video_decoder, load_video_encoder

SMALL = ClipGeometry(frames=9, height=64, width=64)


def test_trained_layout_differs_only_in_sizes_and_loads(tmp_path: Path):
    random, trained = (json.loads(path.read_text()) for path in (LAYOUT_PATH, TRAINED_LAYOUT_PATH))
    assert random.keys() | {"tokenizer"} == trained.keys() and random["gemma"] == trained["gemma"]
    kept = {k: v for k, v in random["checkpoint"]["tensors"].items() if k.startswith(("audio_vae.", "vocoder."))}
    assert kept.items() <= trained["checkpoint"]["tensors"].items()
    model = write_demo_set(tmp_path / "model", TRAINED_LAYOUT_PATH)
    size = sum(path.stat().st_size for path in model.rglob("*") if path.is_file())
    assert 20e6 < size < 40e6
    checkpoint = LTXCheckpoint(model / CHECKPOINT)
    assert checkpoint.config["vae"]["latent_channels"] == checkpoint.config["transformer"]["in_channels"] == 32
    file = checkpoint.file
    assert {k: list(file.info(k).shape) for k in file.keys()} == {  # noqa: SIM118 (not a dict)
        k: v[1] for k, v in trained["checkpoint"]["tensors"].items()
    }
    load_transformer(checkpoint)
    encoder, decoder = load_video_encoder(model / CHECKPOINT), load_video_decoder(model / CHECKPOINT)
    latent = encoder(mx.zeros((1, 3, 9, 64, 64)))
    assert latent.shape == (1, 32, 2, 2, 2)
    assert decoder(latent).shape == (1, 3, 9, 64, 64)
    for name in ("ltx2-demo-spatial-upsampler.safetensors", "ltx2-demo-temporal-upsampler.safetensors"):
        assert load_upsampler(model / name).config.in_channels == 32


def test_progress_lines_carry_an_eta_and_held_out_psnr(tmp_path: Path):
    model = write_demo_set(tmp_path / "model")
    stage = VAEStage(model / CHECKPOINT, SMALL, batch_size=1)
    lines: list[str] = []
    options = TrainOptions(steps=2, checkpoint_every=2, log_every=1, validate_every=2)
    records = run(stage, tmp_path, options, log=lines.append)
    assert lines[0].startswith("vae step 1/2: loss ") and "psnr" in lines[0] and "ETA" in lines[0]
    assert lines[-1].startswith("vae step 2/2 held out: held_out_psnr ")
    assert 0 < records[-1]["held_out_psnr"] < 40


def test_train_command_rejects_steps_with_all(capsys):
    assert train_main(["--all", "--steps", "5"]) == 2
    assert "--stage" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train_main(["--stage", "vae", "--all"])


def test_caption_words_are_one_token_each_and_other_text_still_tokenizes(tmp_path: Path):
    from ltx_core.demo.tokenizer import caption_words, write_byte_tokenizer, write_caption_word_tokenizer
    from ltx_core.model.text_encoder.tokenizer import PromptTokenizer

    write_caption_word_tokenizer(tmp_path / "words", 1024)
    write_byte_tokenizer(tmp_path / "bytes", 1024)
    words, raw = PromptTokenizer(tmp_path / "words", 128), PromptTokenizer(tmp_path / "bytes", 128)
    caption = "A Purple triangle moving left on a dark blue background"
    assert words(caption).token_count == 1 + len(caption.split())  # <bos> + one per word
    assert words(caption.lower()).input_ids.tolist() == words(caption).input_ids.tolist()
    ids = {tuple(words(word).input_ids.tolist()[0][-1:]) for word in caption_words()}
    assert len(ids) == len(caption_words()) == 24
    assert words("un chat rouge 🎬").token_count > 10  # unknown words fall back to bytes
    assert raw(caption).token_count == 1 + len(caption)


def test_a_run_folder_starts_from_the_trained_layout_nearly_deterministic_and_at_the_mean_log_mel(tmp_path: Path):
    from ltx_core.demo.train import prepare_folder
    from ltx_core.demo.train.vae_stage import INITIAL_LOG_VARIANCE, encoder_moments

    model = prepare_folder(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    encoder = load_video_encoder(model / CHECKPOINT)
    means, log_var = encoder_moments(encoder, mx.random.uniform(-1, 1, (1, 3, 9, 64, 64), key=mx.random.key(0)))
    assert means.shape[-1] == 32 and float(mx.abs(log_var - INITIAL_LOG_VARIANCE).max()) == 0.0
    # The audio decoder starts at the soundtracks' mean log-mel (mostly the log(1e-5) silence floor).
    from ltx_core.demo.train.audio_stage import AudioStage

    audio = AudioStage(model, SMALL, batch_size=2)
    bias = audio.modules.decoder.conv_out.conv.bias
    mel, _, _ = audio.batch(0)
    assert bias.shape == (2,) and -11.5 < float(bias.min()) and float(bias.max()) < -8.5
    assert abs(float(mx.mean(mel)) - float(mx.mean(bias))) < 1.5
    # ... and its vocoder quiet, clear of the final tanh's saturation (random weights: rms 0.85).
    mel, wave, _ = audio.batch(1)
    sound = audio.modules.vocoder(mel)
    assert float(mx.sqrt(mx.mean(sound**2))) < 0.5 and float(mx.abs(sound).max()) < 0.99


def test_audio_stage_gradients_reach_the_audio_vae_and_vocoder_and_export_round_trips(tmp_path: Path):
    import numpy as np
    from mlx import nn
    from mlx.utils import tree_flatten

    from ltx_core.demo.train import prepare_folder
    from ltx_core.demo.train.audio_stage import AudioStage
    from ltx_core.loader.audio_vae import load_vocoder

    stage = AudioStage(prepare_folder(tmp_path), SMALL, batch_size=1)
    mel, wave, joint = stage.batch(0)
    assert mel.shape[:2] == (1, 2) and wave.shape == (1, 2, round(9 / 24 * stage.output_rate)) and not joint
    assert stage.batch(stage.joint_from_step)[2]  # from then on the vocoder hears the decoder's log-mel
    _, joint_metrics = stage.loss((mel, wave, True), mx.random.key(0))
    (loss, metrics), grads = nn.value_and_grad(stage.modules, stage.loss)((mel, wave, False), mx.random.key(0))
    assert float(joint_metrics["mel_mse"]) == float(metrics["mel_mse"])
    assert float(joint_metrics["spectral"]) != float(metrics["spectral"])
    flat = dict(tree_flatten(grads))
    assert set(flat) == {name for name, _ in tree_flatten(stage.modules.trainable_parameters())}
    silent = [name for name, g in flat.items() if float(mx.abs(g).max()) == 0]
    assert not silent, silent
    assert float(metrics["kl"]) > 0 and float(loss) > float(metrics["spectral"]) > 0
    stage.export()
    reloaded = dict(tree_flatten(load_vocoder(stage.checkpoint).parameters()))
    for name, value in tree_flatten(stage.modules.vocoder.parameters()):
        assert np.array_equal(np.array(reloaded[name]), np.array(value)), name

"""Demo model training (issue 18): trained weights save in the official layout (bit-exact through
the normal loaders and the ledger), gradients flow, and a resumed run continues bit for bit."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten

from ltx_core.demo import CHECKPOINT, demo_paths, install_trained_set, write_demo_set
from ltx_core.demo.evaluate import evaluate
from ltx_core.demo.train.data import ClipGeometry, held_out_captions, pixels, training_clip
from ltx_core.demo.train.loop import TrainingError, TrainOptions, learning_rate_schedule, run
from ltx_core.demo.train.vae_stage import VAEStage
from ltx_core.demo.train.weights import ParameterIndex, save_components
from ltx_core.loader.components import load_transformer
from ltx_core.loader.video_vae import load_video_decoder
from ltx_core.pipelines.ledger import build_ledger
from ltx_core.presets import load_presets, pick_preset, system_memory_bytes

SMALL = ClipGeometry(frames=9, height=64, width=64)


def params(module) -> dict[str, np.ndarray]:
    return {name: np.array(value) for name, value in tree_flatten(module.parameters())}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_trained_weights_round_trip_through_the_loaders_bit_exactly(tmp_path: Path):
    model = write_demo_set(tmp_path / "model")
    checkpoint = model / CHECKPOINT
    index = ParameterIndex.probe(checkpoint, load_transformer)
    transformer = load_transformer(checkpoint)
    rng = np.random.default_rng(1)
    changed = {
        name: mx.array(value + rng.normal(0, 0.01, value.shape).astype(np.float32))
        for name, value in params(transformer).items()
    }
    transformer.load_weights(list(changed.items()))
    save_components(checkpoint, [(transformer, index)])
    reloaded = params(load_transformer(checkpoint))
    assert reloaded.keys() == changed.keys()
    for name, value in changed.items():
        assert np.array_equal(reloaded[name], np.array(value)), name


class PowerCut(RuntimeError):
    pass


def interrupted_and_straight_runs(tmp_path: Path, options: TrainOptions) -> tuple[Path, Path]:
    """The same run twice: straight through, and cut before step 2 then resumed."""

    def stage(folder: Path, cut_at: int | None = None) -> VAEStage:
        model = folder / "model"
        if not model.exists():
            write_demo_set(model)
        vae = VAEStage(model / CHECKPOINT, SMALL, batch_size=1)
        if cut_at is not None:
            batch = vae.batch

            def cut(step: int):
                if step == cut_at:
                    raise PowerCut
                return batch(step)

            vae.batch = cut
        return vae

    straight, cut = tmp_path / "straight", tmp_path / "cut"
    run(stage(straight), straight, options, log=lambda _: None)
    with pytest.raises(PowerCut):
        run(stage(cut, cut_at=2), cut, options, log=lambda _: None)
    run(stage(cut), cut, TrainOptions(**{**options.__dict__, "resume": True}), log=lambda _: None)
    assert digest(straight / "vae" / "state.safetensors") == digest(cut / "vae" / "state.safetensors")
    return straight, cut


def test_learning_rate_decays_and_an_interrupted_run_resumes_on_its_schedule(tmp_path: Path):
    options = TrainOptions(steps=4, learning_rate=1e-3, checkpoint_every=2, log_every=1, decay_to=0.1)
    schedule = learning_rate_schedule(options)
    assert [round(schedule(mx.array(step)).item(), 7) for step in range(5)] == [1e-3, 8.682e-4, 5.5e-4, 2.318e-4, 1e-4]
    assert learning_rate_schedule(TrainOptions(steps=4)) == 2e-4  # constant unless asked
    _, cut = interrupted_and_straight_runs(tmp_path, options)
    saved = mx.load(str(cut / "vae" / "state.safetensors"))
    assert saved["optimizer/learning_rate"].item() == pytest.approx(schedule(mx.array(3)).item())


def test_muon_takes_the_weight_matrices_warms_up_and_resumes_bit_for_bit(tmp_path: Path):
    options = TrainOptions(
        steps=4, learning_rate=1e-3, checkpoint_every=2, log_every=1, decay_to=0.1, matrix_learning_rate=0.02,
        warmup_steps=2,
    )  # fmt: skip
    muon = learning_rate_schedule(options, options.matrix_learning_rate)
    # Linear from a twentieth over the warmup, then the cosine over the remaining steps.
    assert [round(muon(mx.array(step)).item(), 7) for step in range(5)] == [0.001, 0.0105, 0.02, 0.011, 0.002]
    short = learning_rate_schedule(TrainOptions(**{**options.__dict__, "steps": 3, "warmup_steps": 50}), 0.02)
    assert [round(short(mx.array(step)).item(), 7) for step in range(3)] == [0.001, 0.02, 0.011]  # warmup cut to 1
    _, cut = interrupted_and_straight_runs(tmp_path, options)
    saved = mx.load(str(cut / "vae" / "state.safetensors"))
    muon_state = {k.removeprefix("optimizer/states.0.") for k in saved if k.startswith("optimizer/states.0.")}
    adam_state = {k.removeprefix("optimizer/states.1.") for k in saved if k.startswith("optimizer/states.1.")}
    assert "decoder.conv_out.conv.weight.v" in muon_state and "encoder.conv_in.conv.weight.v" in muon_state
    assert {"decoder.conv_out.conv.bias.m", "decoder.last_scale_shift_table.m"} <= adam_state
    assert not any(".bias." in k or "scale_shift_table" in k for k in muon_state)
    assert saved["optimizer/states.0.learning_rate"].item() == pytest.approx(muon(mx.array(3)).item())
    adam_options = TrainOptions(**{**options.__dict__, "matrix_learning_rate": 0.0, "resume": True, "steps": 6})
    vae = VAEStage(cut / "model" / CHECKPOINT, SMALL, batch_size=1)
    with pytest.raises(TrainingError, match="another optimizer"):
        run(vae, cut, adam_options, log=lambda _: None)


def test_parts_named_adamw_only_keep_their_matrices_off_muon():
    from mlx import nn

    from ltx_core.demo.train.loop import make_optimizer

    class Parts(nn.Module):
        def __init__(self):
            super().__init__()
            self.decoder = nn.Linear(4, 4)
            self.vocoder = nn.Linear(4, 4)

    parts = Parts()
    options = TrainOptions(steps=2, matrix_learning_rate=0.02, adamw_only=("vocoder.",))
    optimizer = make_optimizer(options)
    optimizer.init(parts.trainable_parameters())
    muon, adam = (dict(tree_flatten(state)) for state in optimizer.state["states"])
    assert "decoder.weight.v" in muon and "decoder.weight.m" not in adam
    assert "vocoder.weight.m" in adam and not any(k.startswith("vocoder.") for k in muon)


def test_the_vae_trains_on_windows_around_the_shape_then_on_whole_clips(tmp_path: Path):
    model = write_demo_set(tmp_path / "model")
    vae = VAEStage(model / CHECKPOINT, ClipGeometry(), batch_size=2, window_steps=3)
    assert [tuple(vae.batch(step).shape) for step in (0, 2, 3)] == [(2, 3, 17, 64, 64)] * 2 + [(2, 3, 17, 128, 128)]
    whole = np.array(vae.batch(3))
    assert np.array_equal(whole, np.array(pixels([training_clip(0, 3, i, ClipGeometry()) for i in range(2)])))


def test_resumed_run_continues_bit_for_bit(tmp_path: Path):
    def stage(folder: Path) -> VAEStage:
        model = folder / "model"
        if not model.exists():
            write_demo_set(model)
        return VAEStage(model / CHECKPOINT, SMALL, batch_size=1)

    straight, split = tmp_path / "straight", tmp_path / "split"
    records = run(stage(straight), straight, TrainOptions(steps=4, checkpoint_every=2, log_every=1), log=lambda _: None)
    run(stage(split), split, TrainOptions(steps=2, checkpoint_every=2, log_every=1), log=lambda _: None)
    with pytest.raises(TrainingError, match="--resume"):
        run(stage(split), split, TrainOptions(steps=4), log=lambda _: None)
    resumed = run(
        stage(split), split, TrainOptions(steps=4, checkpoint_every=2, log_every=1, resume=True), log=lambda _: None
    )
    assert [r["step"] for r in resumed] == [3, 4]
    assert [r["loss"] for r in resumed] == [r["loss"] for r in records[2:]]
    assert digest(straight / "model" / CHECKPOINT) == digest(split / "model" / CHECKPOINT)
    assert digest(straight / "vae" / "state.safetensors") == digest(split / "vae" / "state.safetensors")
    # The exported decoder is the trained one (statistics re-estimated, weights as trained).
    trained = stage(straight)
    decoder = load_video_decoder(straight / "model" / CHECKPOINT)
    weights = params(decoder)
    for name, value in params(trained.modules.decoder).items():
        if "per_channel_statistics" not in name:
            assert np.array_equal(weights[name], value), name


def test_vae_gradients_reach_every_trainable_weight(tmp_path: Path):
    from mlx import nn

    model = write_demo_set(tmp_path / "model")
    vae = VAEStage(model / CHECKPOINT, SMALL, batch_size=1)
    loss_and_grad = nn.value_and_grad(vae.modules, vae.loss)
    (loss, metrics), grads = loss_and_grad(vae.batch(0), mx.random.key(0))
    flat = dict(tree_flatten(grads))
    assert set(flat) == {name for name, _ in tree_flatten(vae.modules.trainable_parameters())}
    assert "encoder.per_channel_statistics.mean_of_means" not in flat
    assert all(float(mx.abs(g).sum()) > 0 for g in flat.values())
    assert float(loss) > 0 and 0 < float(metrics["psnr"]) < 40


def test_training_clips_never_use_held_out_captions():
    held_out = set(held_out_captions())
    assert 20 < len(held_out) < 100
    seen = {training_clip(0, step, 0, SMALL).caption for step in range(200)}
    assert not seen & held_out and len(seen) > 100


def test_installed_trained_set_is_what_the_demo_paths_use(tmp_path: Path):
    model = write_demo_set(tmp_path / "run" / "model")
    vae = VAEStage(model / CHECKPOINT, SMALL, batch_size=1)
    run(vae, tmp_path / "run", TrainOptions(steps=1, log_every=1), log=lambda _: None)
    root = install_trained_set(model, tmp_path / "demo")
    paths = demo_paths(root)
    assert digest(paths.checkpoint) == digest(model / CHECKPOINT) == (root / "TRAINED").read_text()
    ledger = build_ledger(paths, pick_preset(system_memory_bytes(), load_presets()), demo=True)
    through_ledger = params(ledger.video_encoder())
    for name, value in params(vae.modules.encoder).items():
        if "per_channel_statistics" not in name:
            assert np.array_equal(through_ledger[name], value), name
    result = evaluate(root, limit=1, steps=2, log=lambda _: None)
    assert result.captions == 1 and set(result.hit_rates) == {"colour", "shape", "motion", "background"}
    assert all(rate in (0.0, 1.0) for rate in result.hit_rates.values())
    with pytest.raises(FileNotFoundError, match="model/ folder"):
        install_trained_set(tmp_path, tmp_path / "other")


def test_flow_loss_gradients_reach_the_transformer_and_pooled_latents_repeat_exactly(tmp_path: Path):
    from mlx import nn

    from ltx_core.demo.train.transformer_stage import TransformerStage

    model = write_demo_set(tmp_path / "model")
    mix = ((SMALL, 0.5), (ClipGeometry(frames=17, height=32, width=32), 0.5))
    stage = TransformerStage(model, mix, batch_size=2, pool_clips=3)
    batches = [stage.batch(step) for step in range(6)]
    assert {b["video"].shape[1] for b in batches} == {2 * 2 * 2, 3 * 1 * 1}  # both geometries drawn
    assert len(stage._pool) <= 6  # at most 3 clips per geometry were encoded
    batch = batches[0]
    again = TransformerStage(model, mix, batch_size=2, pool_clips=3).batch(0)  # as a resumed run builds it
    for name in ("video", "audio", "video_context", "sigma"):
        assert np.array_equal(np.array(batch[name]), np.array(again[name])), name
    (loss, metrics), grads = nn.value_and_grad(stage.modules, stage.loss)(batch, mx.random.key(0))
    flat = dict(tree_flatten(grads))
    assert set(flat) == {name for name, _ in tree_flatten(stage.modules.trainable_parameters())}
    assert any(name.startswith("transformer_blocks.") for name in flat)
    silent = [name for name, g in flat.items() if float(mx.abs(g).max()) == 0]
    assert not silent, silent
    assert float(loss) == pytest.approx(float(metrics["video"] + metrics["audio"]), rel=1e-5)


def test_training_sigmas_follow_the_official_sampler_and_the_distilled_schedule():
    from ltx_core.components.schedulers import DISTILLED_SIGMAS, STAGE_2_DISTILLED_SIGMAS
    from ltx_core.demo.train.transformer_stage import shifted_logit_normal_sigmas, training_sigmas

    rng = np.random.default_rng(0)
    few, many = shifted_logit_normal_sigmas(rng, 20000, 48), shifted_logit_normal_sigmas(rng, 20000, 4096)
    assert 0 < few.min() and many.max() <= 1
    assert few.mean() + 0.1 < many.mean()  # the shift grows with the token count
    mixed = training_sigmas(np.random.default_rng(1), 20000, 48)
    distilled = np.isin(mixed, np.array(DISTILLED_SIGMAS[:-1] + STAGE_2_DISTILLED_SIGMAS[:-1], dtype=np.float32))
    assert 0.2 < distilled.mean() < 0.3


@pytest.mark.parametrize("kind", ["spatial", "temporal"])
def test_upsampler_stages_train_and_export_in_the_upsampler_files(tmp_path: Path, kind: str):
    from ltx_core.demo.train.upsampler_stage import UpsamplerStage
    from ltx_core.loader.upsampler import load_upsampler

    model = write_demo_set(tmp_path / "model")
    geometry = ClipGeometry(frames=17 if kind == "temporal" else 9, height=64, width=64)
    stage = UpsamplerStage(model, (geometry, replace(geometry, height=32, width=32)), kind=kind, batch_size=1)
    assert stage.batch(1)[0].shape[3] == 1  # the second geometry's latent is 1 x 1
    low, high = stage.batch(0)
    if kind == "spatial":
        assert (high.shape[3], high.shape[4]) == (2 * low.shape[3], 2 * low.shape[4])
    else:
        assert high.shape[2] == 2 * (low.shape[2] - 1) + 1
    before = digest(stage.file)
    run(stage, tmp_path, TrainOptions(steps=2, log_every=1), log=lambda _: None)
    assert digest(stage.file) != before
    reloaded = params(load_upsampler(stage.file))
    for name, value in params(stage.modules).items():
        assert np.array_equal(reloaded[name], value), name


def test_cpu_split_head_attention_gradients_match_the_fused_kernel(monkeypatch):
    from ltx_core.components import cpu_attention

    monkeypatch.setattr(cpu_attention, "GROUP_SCORE_BYTES", 1)  # the bounded path: evaluates as it goes
    q, k, v = (mx.random.normal((1, 8, 16, 4), key=mx.random.key(i)) for i in range(3))

    def split(q, k, v):
        return (cpu_attention.split_heads_attention(q, k, v, 0.5) ** 2).sum()

    def fused(q, k, v):
        return (mx.fast.scaled_dot_product_attention(q, k, v, scale=0.5) ** 2).sum()

    for ours, reference in zip(mx.grad(split, argnums=(0, 1, 2))(q, k, v), mx.grad(fused, argnums=(0, 1, 2))(q, k, v)):
        assert np.array_equal(np.array(ours), np.array(reference))


def test_held_out_reconstruction_reads_the_shapes_back():
    from ltx_core.demo.synthetic import ClipSpec
    from ltx_core.demo.train.vae_stage import held_out_reconstruction

    def identity(video):
        return video

    def blank(latent):  # the background alone: an empty mask reads as a circle
        return mx.broadcast_to(latent[:, :, :, :1, :1], latent.shape)

    clips = 12
    circles = sum(ClipSpec.from_caption(c).shape == "circle" for c in held_out_captions()[:clips]) / clips
    assert 0 < circles < 1
    exact = 10 * np.log10(4.0 / 1e-10)  # MSE 0, floored at 1e-10
    assert held_out_reconstruction(identity, identity, SMALL, clips) == (pytest.approx(exact), 1.0)
    psnr_db, shapes = held_out_reconstruction(identity, blank, SMALL, clips)
    assert psnr_db < 25 and shapes == pytest.approx(circles)

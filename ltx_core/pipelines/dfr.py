"""DFR (LTX-2.5): generated keyframe slots at every segment end of a padded canvas in a half-size
distilled stage, x2 spatial upsampling of the video and of the slots, a full-size refinement that
re-seeds the slots, then 0-2 temporal x2 rounds: each upsamples in time, splits the canvas into
keyframe-seam tiles (2, then 4), pins the carried keyframes in each tile, invents a slot in the
middle of every segment, densifies with ancestral Euler and stitches the tiles. The audio is
stage 1's. The output has ``(frames - 1) * 2**rounds + 1`` frames at ``fps * 2**rounds``
(ltx-pipelines 1.2.0 ``DFRPipeline``, without the optional detailing IC-LoRA)."""

from __future__ import annotations

from dataclasses import replace

import mlx.core as mx

from ltx_core.components.diffusion_steps import EulerAncestralDiffusionStep
from ltx_core.components.noisers import GaussianNoiser
from ltx_core.components.schedulers import DISTILLED_SIGMAS, distilled_sigmas, refinement_sigmas
from ltx_core.model_spec import Role
from ltx_core.pipelines import dfr_layout
from ltx_core.pipelines.blocks import (
    check_memory,
    denoise_states,
    encode_prompts,
    image_conditionings,
    latent_spaces,
    upsample_spatially,
    upsample_temporally,
)
from ltx_core.pipelines.denoising import AncestralSampler
from ltx_core.pipelines.descriptor import COMMON_FIELDS, Latents, PipelineDescriptor, StagePlan
from ltx_core.pipelines.keyframe_slots import GeneratedKeyframeSlots, generated_keyframes
from ltx_core.pipelines.latents import KeyframeConditioning
from ltx_core.pipelines.ledger import Component
from ltx_core.pipelines.request import GenerationRequest, RequestError
from ltx_core.pipelines.staged import StagedPipeline

ANCHOR_STRENGTH = 0.95  # carried keyframes stay just short of clean, so a tile can settle its seam
TEMPORAL_ETA = 0.5
TEMPORAL_SIGMAS = DISTILLED_SIGMAS[4:]
# RoPE time is frame / fps: above 60 fps a latent's 8 frames no longer fit the trained spans.
MAX_CONDITIONING_FPS = 60.0
TEMPORAL_PLAN = StagePlan("distilled")


def output_frames(frames: int, rounds: int) -> int:
    return (frames - 1) * 2**rounds + 1


class DFRPipeline(StagedPipeline):
    def check_models(self, request: GenerationRequest) -> None:
        super().check_models(request)
        if request.temporal_rounds:
            if self.ledger.paths.temporal_upsampler is None:
                raise RequestError(
                    f"{request.temporal_rounds} temporal round(s) need the temporal x2 upsampler: give it "
                    "(--temporal-upscaler-weights, or latent_upscale_models/ in the weights folder) or set temporal rounds to 0."
                )
            self.ledger.check_files(Role.TEMPORAL_UPSAMPLER)

    def prepare(
        self, request: GenerationRequest, text_encoder: bool = True
    ) -> tuple[GenerationRequest, tuple[str, ...]]:
        """As every recipe, plus the canvas (refused under 9 frames) and the memory of the largest
        pass (the padded canvas, a temporal tile or the longer output), before anything loads."""
        request, notices = super().prepare(request, text_encoder)
        if not request.auto_frames:
            frames = dfr_layout.largest_denoised_frames(request.frames, request.temporal_rounds)
            check_memory(self.ledger, self.descriptor, replace(request, frames=frames), text_encoder,
                         self.all_stage_loras(request))  # fmt: skip
        return request, notices

    def check_generated_keyframes(self, request: GenerationRequest) -> None:
        super().check_generated_keyframes(request)  # refuses a slot count: DFR places its own
        self.check_keyframe_embedding()

    def produce(self, request, reporter=None, noiser=None, prompts=None, ancestral_noiser=None) -> Latents:
        """``ancestral_noiser``: one stream for every temporal tile's re-noising (default: a stream
        per tile seeded ``seed + 1000 * round + tile``)."""
        ledger = self.ledger
        noiser = noiser or GaussianNoiser(request.seed)
        self._ancestral_noiser = ancestral_noiser
        notices: tuple[str, ...] = ()
        duration = None
        with ledger.stage("text encoder"):
            prompts = prompts or encode_prompts(ledger, request, with_negative=False)
            if request.auto_frames:
                request, notice, duration = self.resolve_duration(request, prompts)
                notices += (notice,)
        canvas_frames, _, positions = dfr_layout.resolve_canvas(request.frames)
        canvas = replace(request, frames=canvas_frames)
        height, width = request.height, request.width
        with ledger.stage("stage 1"):
            video, audio, slots = self._denoise(
                self.first, canvas, prompts, noiser, reporter, "stage 1", (height // 2, width // 2, canvas_frames, request.fps),
                distilled_sigmas(1), GeneratedKeyframeSlots(positions), request.generate_audio,
            )  # fmt: skip
        with ledger.stage("upsample"):
            upscaled, slots = upsample_spatially(ledger, video, slots)
        with ledger.stage("stage 2"):
            video, _, slots = self._denoise(
                self.second, canvas, prompts, noiser, reporter, "stage 2", (height, width, canvas_frames, request.fps),
                refinement_sigmas(None), GeneratedKeyframeSlots(positions, slots), request.generate_audio,
                initial=(upscaled, audio),
            )  # fmt: skip
        carried, frames, fps = (list(positions), slots), canvas_frames, request.fps
        for round_index in range(1, request.temporal_rounds + 1):
            with ledger.stage(f"temporal round {round_index}"):
                video, carried, frames, fps = self._temporal_round(
                    round_index, canvas, prompts, noiser, reporter, video, carried, frames, fps
                )
        ledger.release(
            Component.TRANSFORMER, Component.VIDEO_ENCODER, Component.VIDEO_STATISTICS, Component.TEMPORAL_UPSAMPLER
        )
        target = output_frames(request.frames, request.temporal_rounds)
        video = video[:, :, : (target - 1) // dfr_layout.TEMPORAL_SCALE + 1]  # the canvas padded the tail
        from ltx_core.pipelines.runner import request_settings

        settings = {
            **request_settings(self.descriptor, request),
            "canvas_frames": canvas_frames,
            "output_frames": target,
        }
        if duration is not None:
            settings["auto_duration"] = duration
        return Latents(
            video, audio, prompts.prompt, notices=notices, fps=fps, settings=settings, audio_seconds=target / fps
        )

    def _denoise(self, plan, request, prompts, noiser, reporter, name, size, sigmas, slots, with_audio,
                 initial=None, extra=(), ancestral=None):  # fmt: skip
        """One stage at ``size`` (height, width, frames, fps) with ``slots`` appended last:
        (video latent, audio latent or None, the slots' latent)."""
        ledger = self.ledger
        height, width, frames, fps = size
        video_space, audio_space = latent_spaces(ledger, height, width, frames, fps)
        audio_space = audio_space if with_audio else None
        conditionings = [*image_conditionings(ledger, request.images, video_space, height, width), *extra, slots]
        model = ledger.transformer(self.stage_loras(plan, request))
        denoiser = self._denoiser(
            plan, request, prompts, model, audio_space is not None, ledger.runtime.batch_guidance_passes
        )
        noise_scale = float(sigmas[0].item()) if initial is not None else 1.0
        video_init, audio_init = initial if initial is not None else (None, None)
        video, audio = denoise_states(
            ledger, video_space, audio_space, sigmas, denoiser, noiser, conditionings, name, reporter,
            noise_scale=noise_scale, initial_video=video_init, initial_audio=audio_init if audio_space else None,
            ancestral=ancestral,
        )  # fmt: skip
        model.velocity_model.clear_run_cache()
        audio_latent = audio_space.finish(audio) if audio is not None else None
        return video_space.finish(video), audio_latent, generated_keyframes(video, video_space)

    def _temporal_round(self, round_index, request, prompts, noiser, reporter, video, carried, frames, fps):
        """One x2 round: (stitched latent, carried keyframes (positions, latents), frames, fps)."""
        upsampled = upsample_temporally(self.ledger, video)
        frames, fps = 2 * (frames - 1) + 1, 2 * fps
        seams = [2 * p for p in carried[0]]
        anchor_index = {p: i for i, p in enumerate(seams)}
        tiles = dfr_layout.tile_ranges(seams, frames, 2**round_index)
        tile_latents, slot_positions, slot_latents = [], [], []
        for tile_index, tile in enumerate(tiles):
            tile_video = upsampled[:, :, tile.latent_start : tile.latent_stop]
            # Images are tile-local: a tile after the first keeps only the images inside it.
            images = tuple(
                replace(i, frame_index=i.frame_index - tile.pixel_start) for i in request.images
                if tile.pixel_start == 0 or tile.pixel_start <= i.frame_index <= tile.pixel_end
            )  # fmt: skip
            anchors = [
                KeyframeConditioning(carried[1][:, :, anchor_index[p] : anchor_index[p] + 1], p - tile.pixel_start,
                                     ANCHOR_STRENGTH, placeholder=True)
                for p in tile.anchors
            ]  # fmt: skip
            local_slots = [p - tile.pixel_start for p in tile.slots]
            initial = mx.concatenate(
                [tile_video[:, :, _nearest_latent(p, tile_video.shape[2])] for p in local_slots], axis=2
            )
            noise = self._ancestral_noiser or GaussianNoiser(request.seed + 1000 * round_index + tile_index)
            sampler = AncestralSampler(EulerAncestralDiffusionStep(TEMPORAL_ETA, 1.0), noise)
            tile_request = replace(request, images=images)
            name = f"temporal {round_index}, tile {tile_index + 1}/{len(tiles)}"
            latent, _, slots = self._denoise(
                TEMPORAL_PLAN, tile_request, prompts, noiser, reporter, name,
                (request.height, request.width, tile.frames, min(fps, MAX_CONDITIONING_FPS)),
                mx.array(TEMPORAL_SIGMAS, dtype=mx.float32), GeneratedKeyframeSlots(tuple(local_slots), initial), False,
                initial=(tile_video, None), extra=anchors, ancestral=sampler,
            )  # fmt: skip
            tile_latents.append(latent)
            slot_positions += tile.slots
            slot_latents += [slots[:, :, i : i + 1] for i in range(len(tile.slots))]
        stitched = dfr_layout.stitch(tile_latents, tiles)
        bag = dict(zip(seams, (carried[1][:, :, i : i + 1] for i in range(len(seams)))))
        generated: dict[int, mx.array] = {}
        for position, latent in zip(slot_positions, slot_latents):  # a lead-in repeats slots: the first wins
            generated.setdefault(position, latent)
        bag.update(generated)
        order = sorted(bag)
        return stitched, (order, mx.concatenate([bag[p] for p in order], axis=2)), frames, fps


def _nearest_latent(pixel_frame: int, latent_frames: int) -> slice:
    index = min(max(round(pixel_frame / dfr_layout.TEMPORAL_SCALE), 0), latent_frames - 1)
    return slice(index, index + 1)


DFRPipeline.descriptor = DESCRIPTOR = PipelineDescriptor(
    name="dfr",
    title="DFR (keyframe slots, temporal rounds)",
    summary=(
        "Distilled half-size stage with a generated keyframe at every segment end, x2 spatial refinement, then "
        "0-2 temporal x2 rounds (twice the frames and fps each) denoised in keyframe-seam tiles: LTX-2.5 only."
    ),
    first=StagePlan("distilled"),
    second=StagePlan("distilled_stage2"),
    needs=(Role.SPATIAL_UPSAMPLER,),
    fields=COMMON_FIELDS | frozenset({"temporal_rounds"}),
    factory=DFRPipeline,
    versions=("2.5",),
)

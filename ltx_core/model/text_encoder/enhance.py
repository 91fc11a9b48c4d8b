"""Prompt enhancement: Gemma rewrites a short user prompt into a detailed video prompt.

Generation is greedy (``temperature=0``) or sampled with a seeded MLX key, token by token
with a KV cache. The system prompts below are this project's own wording of the intent of
the official ones: a detailed, literal, chronological description with an integrated
soundscape, nothing invented that the user did not ask for, one plain paragraph.
"""

from __future__ import annotations

import mlx.core as mx

from ltx_core.model.text_encoder.gemma import GemmaTextModel, KVCache

TEXT_TO_VIDEO_SYSTEM_PROMPT = """\
You turn a user's short idea into one detailed prompt for a model that generates a video \
with sound from text.

Rules:
- Keep everything the user asked for: subjects, actions, style, camera work, sounds and any \
spoken words. Never drop or contradict a requested element.
- Where the idea is vague, fill in concrete, visible details: setting, lighting, materials, \
clothing, hair and expressions of people already mentioned. Do not add people the user did \
not mention.
- Describe what happens in order, using present-progressive verbs ("is walking", "is \
pouring") and linking words such as "as", "then" and "while". If no action is given, describe \
small natural movements.
- Describe the sound as it happens alongside the action: ambient noise, specific effects \
("a kettle clicking off"), music or speech when requested. Avoid vague phrases like "ambient \
sound is present".
- Speech only when the user asks for talking, singing or dialogue: quote the exact words and \
say how the voice sounds; name the language or accent if it is not plain English. Keep \
dialogue the user wrote unchanged except for typos.
- If a visual style is clear, begin with "Style: <style>," and otherwise assume a realistic, \
cinematic look.
- Only what can be seen or heard: no smells, tastes or textures felt by touch.
- Use calm, plain wording: ordinary colour names, neutral light descriptions, no \
exaggeration.
- Do not add camera moves, cuts or timestamps the user did not ask for. For a first-person \
view, do not describe the person whose eyes we look through.
- Do not open with phrases like "The video begins"; start with the style or the scene itself, \
and never start with a symbol or punctuation.
- If the user's prompt is already detailed and ordered, change little; add sound if it is \
missing.

Answer with a single paragraph of natural English and nothing else: no title, list, markdown \
or question. If the request is unsafe or meaningless, answer with the user's prompt unchanged."""

IMAGE_TO_VIDEO_SYSTEM_PROMPT = """\
You write prompts that animate a still image: the image is the first frame of the video and \
the user says what should happen next. Produce one short prompt that continues from that \
frame.

Rules:
- Work out the subject, setting, style and mood of the first frame, then follow the user's \
request: all asked-for motion, actions, camera work, sounds and details. If the request \
conflicts with the image, follow the request while keeping the look consistent.
- Describe what changes and moves, not what the image already shows; restating the image \
in other words can cause the video to cut.
- Use present-progressive verbs and linking words ("as", "then", "while"); if no action is \
given, describe small natural movements.
- Weave the sound into the action as it happens (not as a list at the end) and match its \
intensity to the action: background noise, specific effects, music or speech when asked.
- Speech only when the user asks for it: quote the exact words with the speaker's look and \
voice; if the user only says someone talks, write fitting words for them. Keep dialogue the \
user wrote unchanged except for typos.
- Begin with "Style: <style>," only if the style is clear.
- Only what can be seen or heard; plain, understated wording; report visible actions, not \
feelings or intentions.
- Do not add camera moves, cuts or timestamps the user did not ask for; do not open with \
phrases like "The video starts"; never start with a symbol or punctuation.

Answer with a single concise paragraph of natural English and nothing else. If the request \
is unsafe or meaningless, answer with the user's prompt unchanged."""

_TYPOGRAPHY = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2014": "-", "\u2013": "-", "\u00a0": " ",
     "\u2032": "'", "\u2212": "-"}
)


def clean_response(text: str) -> str:
    """Straighten typographic quotes and dashes and drop any leading non-letter characters."""
    text = text.translate(_TYPOGRAPHY).strip()
    for index, char in enumerate(text):
        if char.isalpha():
            return text[index:]
    return text


def enhancement_messages(prompt: str, image_to_video: bool, system_prompt: str | None = None) -> list[dict[str, str]]:
    system = system_prompt or (IMAGE_TO_VIDEO_SYSTEM_PROMPT if image_to_video else TEXT_TO_VIDEO_SYSTEM_PROMPT)
    label = "User raw input prompt" if image_to_video else "user prompt"
    return [{"role": "system", "content": system}, {"role": "user", "content": f"{label}: {prompt.strip()}"}]


def generate(
    model: GemmaTextModel,
    prompt_ids: list[int],
    max_new_tokens: int,
    stop_ids: set[int],
    temperature: float = 0.0,
    seed: int = 0,
    top_k: int | None = 50,
) -> list[int]:
    """Continue ``prompt_ids``; greedy when ``temperature`` is 0, else seeded sampling from the
    ``top_k`` most likely tokens (50, the transformers default the official enhancer runs with)."""
    if not prompt_ids:
        raise ValueError("generation needs at least one prompt token")
    cache = KVCache(len(model.layers))
    key = mx.random.key(seed)
    tokens = mx.array([prompt_ids], dtype=mx.int32)
    out: list[int] = []
    for _ in range(max_new_tokens):
        mask = mx.ones((1, cache.length + tokens.shape[1]), dtype=mx.int32)
        logits = model.logits(tokens, mask, cache)
        if temperature <= 0:
            next_id = mx.argmax(logits, axis=-1)
        else:
            key, draw = mx.random.split(key)
            scaled = logits / temperature
            if top_k is not None and top_k < scaled.shape[-1]:
                threshold = mx.sort(scaled, axis=-1)[:, -top_k][:, None]
                scaled = mx.where(scaled < threshold, -mx.inf, scaled)
            next_id = mx.random.categorical(scaled, key=draw)
        value = int(next_id.item())
        if value in stop_ids:
            break
        out.append(value)
        tokens = mx.array([[value]], dtype=mx.int32)
    return out


def rewrite_prompt(
    tokenizer,
    model: GemmaTextModel,
    prompt: str,
    image_to_video: bool = False,
    seed: int = 42,
    temperature: float = 0.7,
    max_new_tokens: int = 512,
    system_prompt: str | None = None,
) -> str:
    """Rewrite ``prompt`` with a chat Gemma (``tokenizer``: a ``PromptTokenizer`` with a chat
    template) into a detailed video prompt. ``temperature=0`` is greedy; otherwise sampling is
    seeded by ``seed``. The image of an image-to-video job is not shown (no vision tower here)."""
    from ltx_core.model.text_encoder.tokenizer import PromptError

    if not prompt or not prompt.strip():
        raise PromptError("The prompt is empty: write a short idea to enhance.")
    ids = tokenizer.chat_ids(enhancement_messages(prompt, image_to_video, system_prompt))
    stop = tokenizer.stop_ids() | set(model.config.eos_token_ids)
    return clean_response(tokenizer.decode(generate(model, ids, max_new_tokens, stop, temperature, seed)))

"""The ledger's text side and duration head: which text encoder and prompt enhancer a job uses,
their checks before anything loads, and their loaders (a mixin of ``ModelLedger``)."""

from __future__ import annotations

from pathlib import Path

from ltx_core.model_spec import Role


class TextModels:
    """Methods of ``ModelLedger`` (``paths``, ``runtime``, ``version``, ``require``, ``get``...)
    for the prompt encoder, the prompt enhancer and the duration head."""

    def check_text_encoder(self) -> None:
        """The text encoder is configured, of the right kind, and (2.5) the Gemma the transformer
        was trained with: refused before anything loads."""
        path = self.require(self.text_encoder_role)
        if self.text_encoder_role == Role.TEXT_ENCODER:
            from ltx_core.loader.gemma4 import check_text_encoder_matches

            check_text_encoder_matches(self.paths.checkpoint, path)

    def check_enhancer(self) -> None:
        """Prompt enhancement can run: a configured enhancer folder is a Gemma 3 folder; without one,
        the text encoder must be a Gemma 3 that can generate (2.0, 2.3). Refused before anything loads."""
        from ltx_core.pipelines.request import RequestError

        if self.paths.enhancer is not None:
            from ltx_core.loader.text_encoder import gemma_folder

            gemma_folder(self.paths.enhancer)
            return
        if self.paths.split:
            raise RequestError(
                f"prompt enhancement needs a separate Gemma 3 model on {self.version.title}, whose Gemma 4 text encoder "
                "cannot generate text: set a prompt enhancer folder (e.g. google/gemma-3-12b-it) with --enhancer-gemma "
                "or in Models & Settings, or turn prompt enhancement off."
            )

    def prompt_enhancer(self):
        """What rewrites prompts: the enhancer folder's Gemma 3 when one is set, else the text
        encoder (its Gemma 3); ``check_enhancer`` refuses the rest."""
        self.check_enhancer()
        if self.paths.enhancer is not None:
            from ltx_core.pipelines.ledger import Component

            return self.get(Component.PROMPT_ENHANCER)
        return self.prompt_encoder()

    def gemma_config(self):
        """The Gemma config (folder or one-file text encoder), or None when it is not configured
        (pre-computed embeddings)."""
        if self.paths.split:
            if self.paths.text_encoder is None or not Path(self.paths.text_encoder).exists():
                return None
            from ltx_core.loader.gemma4 import Gemma4TextEncoderFile

            source = Gemma4TextEncoderFile(self.paths.text_encoder)
            try:
                return source.config
            finally:
                source.close()
        if self.paths.gemma is None or not Path(self.paths.gemma).exists():
            return None
        from ltx_core.loader.text_encoder import gemma_config

        return gemma_config(self.paths.gemma)

    def _prompt_encoder(self):
        from ltx_core.loader.text_encoder import load_prompt_encoder

        if self.paths.split:
            from ltx_core.loader.gemma4_source import load_split_prompt_encoder

            return load_split_prompt_encoder(
                self.require(Role.TEXT_ENCODER), self.checkpoint, self.dtype, self.runtime.text_encoder_quantization,
                cache_dir=self.paths.embeddings_cache, staged=not self.runtime.keep_loaded,
            )  # fmt: skip
        return load_prompt_encoder(
            self.paths.gemma, self.checkpoint, self.dtype, self.runtime.text_encoder_quantization,
            cache_dir=self.paths.embeddings_cache, staged=not self.runtime.keep_loaded,
        )  # fmt: skip

    def _prompt_enhancer(self):
        from ltx_core.loader.enhancer import PromptEnhancer

        quantization = self.runtime.text_encoder_quantization
        bits, group = (quantization.bits, quantization.group_size) if quantization is not None else (None, 64)
        return PromptEnhancer(self.paths.enhancer, self.dtype, bits, group)

    def check_duration_head(self) -> None:
        """Automatic duration needs a version with a duration head and its file: refused in one
        sentence, before anything loads, otherwise."""
        from ltx_core.loader.duration import has_duration_head
        from ltx_core.pipelines.request import RequestError

        companion = self.version.file_for(Role.DURATION_HEAD)
        if companion is None:
            raise RequestError(
                f"{self.version.title} has no duration head, so the length cannot be left on auto: give the number of "
                "frames (8k+1, e.g. 121)."
            )
        path = self.paths.duration_head
        if path is None or not Path(path).exists() or not has_duration_head(path):
            state = "is not configured" if path is None else f"{Path(path).name} holds no duration head"
            raise RequestError(
                f"automatic duration needs the duration head ({companion.file}, from {self.version.repo}), which "
                f"{state}: add it with {option_of(Role.DURATION_HEAD)} or give the number of frames (8k+1)."
            )

    def _duration_predictor(self):
        from ltx_core.loader.duration import load_duration_predictor

        self.check_duration_head()
        return load_duration_predictor(self.paths.duration_head, self.dtype)


def option_of(role: Role) -> str:
    from ltx_core.pipelines.ledger import OPTION_OF

    return OPTION_OF[role]


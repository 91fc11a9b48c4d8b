"""Prompt enhancement with a separately chosen Gemma 3 (LTX-2.5, whose Gemma 4 text encoder
cannot generate): refused in one sentence before anything loads when none is set; with the
tiny Gemma 3 as the enhancer, the rewrite it gives is the prompt the 2.5 run encodes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from ltx_core.__main__ import main
from ltx_core.loader.enhancer import PromptEnhancer
from ltx_core.loader.text_encoder import load_gemma
from ltx_core.model.text_encoder.enhance import rewrite_prompt
from ltx_core.model.text_encoder.tokenizer import MAX_PROMPT_TOKENS, PromptTokenizer
from ltx_core.model_paths import ModelPaths
from ltx_core.pipelines.ledger import Component, ModelLedger
from ltx_core.pipelines.registry import PIPELINES
from ltx_core.pipelines.request import GenerationRequest, RequestError
from ltx_core.pipelines.runner import run_job
from tests.conftest import REFERENCE_ROOT
from tests.ltx25_helpers import ltx25_reference
from tests.text_helpers import gemma_folder_with_tokenizer

PROMPT = "a red ball on the beach"
pytestmark = pytest.mark.usefixtures("short_enhancer_rewrites")
NO_ENHANCER = "prompt enhancement needs a separate Gemma 3 model on LTX-2.5, whose Gemma 4 text encoder cannot generate text"


@pytest.fixture(scope="module")
def paths() -> ModelPaths:
    return ModelPaths.from_folder(ltx25_reference().directory)


@pytest.fixture(scope="module")
def enhancer(tmp_path_factory) -> Path:
    return gemma_folder_with_tokenizer(REFERENCE_ROOT / "ltx-2.3" / "gemma", tmp_path_factory.mktemp("enhancer"))


def request(**changes) -> GenerationRequest:
    values = {"prompt": PROMPT, "height": 128, "width": 128, "frames": 9, "seed": 3, "generate_audio": False,
              "enhance_prompt": True}  # fmt: skip
    return GenerationRequest(**{**values, **changes})


def test_without_an_enhancer_ltx25_refuses_before_loading(paths: ModelPaths):
    ledger = ModelLedger(paths)
    with pytest.raises(RequestError, match=NO_ENHANCER + ": set a prompt enhancer folder .* with --enhancer-gemma"):
        PIPELINES["distilled"].create(ledger).prepare(request())
    assert ledger.loaded() == [] and ledger.events == []
    PIPELINES["distilled"].create(ledger).prepare(request(enhance_prompt=False))  # the rest is fine


def test_the_enhancer_rewrites_and_the_run_encodes_the_rewrite(paths: ModelPaths, enhancer: Path, tmp_path: Path):
    expected = rewrite_prompt(PromptTokenizer(enhancer, MAX_PROMPT_TOKENS), load_gemma(enhancer), PROMPT, seed=3)
    assert expected and expected != PROMPT
    assert PromptEnhancer(enhancer).enhance(PROMPT, seed=3) == expected
    ledger = ModelLedger(replace(paths, enhancer=enhancer))
    record = run_job(ledger, "distilled", request(), tmp_path / "enhanced.mp4")
    assert record.prompt == expected
    settings = json.loads(record.sidecar.read_text())["settings"]
    assert settings["prompt_used"] == expected and settings["models"]["prompt_enhancer"] == str(enhancer)
    loads = [e for e in ledger.events if e.startswith(("load", "release"))]
    assert loads.index(f"release {Component.PROMPT_ENHANCER.value}") < loads.index(f"load {Component.PROMPT_ENCODER.value}")
    assert ledger.loaded() == []


def test_a_folder_that_is_no_gemma_is_refused(paths: ModelPaths, tmp_path: Path):
    from ltx_core.errors import LTXError

    with pytest.raises(LTXError, match="no config.json"):
        ModelLedger(replace(paths, enhancer=tmp_path)).check_enhancer()


def test_cli_enhancer_option(paths: ModelPaths, enhancer: Path, tmp_path: Path, capsys):
    folder = str(ltx25_reference().directory)
    common = ["generate", "--weights", folder, "--prompt", PROMPT, "--height", "128", "--width", "128", "--frames", "9",
              "--no-generate-audio", "--enhance-prompt", "--preset", "quality", "--dtype", "float32"]  # fmt: skip
    assert main([*common, "--output", str(tmp_path / "refused.mp4")]) == 2
    error = capsys.readouterr().err
    assert NO_ENHANCER in error and "Traceback" not in error
    assert main([*common, "--enhancer-gemma", str(enhancer), "--seed", "3", "--output", str(tmp_path / "ok.mp4")]) == 0
    settings = json.loads((tmp_path / "ok.json").read_text())["settings"]
    assert settings["models"]["prompt_enhancer"] == str(enhancer) and settings["prompt_used"] != PROMPT

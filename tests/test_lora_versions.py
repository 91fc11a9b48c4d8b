"""The LoRA version check on every model layout: LoRAs made for 2.0, 2.3 and 2.5 (``model_version``
metadata, shapes from that set's own transformer) against the tiny 2.0 / 2.3 checkpoints and the
per-component 2.5 transformer file, through ``check_lora_version`` (what a run checks before
loading), the LoRA library's ``incompatibility`` (what the studio shows) and a run refused before
any model loads."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import pytest

from ltx_core.loader.lora_info import incompatibility
from ltx_core.model_compat import VersionMismatchError, check_lora_version
from ltx_core.model_paths import ModelPaths
from ltx_core.model_spec import VERSIONS, recognise
from ltx_core.pipelines.ledger import ModelLedger
from ltx_core.pipelines.request import GenerationRequest, LoraChoice
from ltx_core.pipelines.runner import run_job
from tests.conftest import REFERENCE_ROOT, load_reference, reference_version
from tests.pipeline_helpers import tiny_lora

SETS = {
    reference_version(d): d for d in REFERENCE_ROOT.iterdir() if (d / "reference.npz").is_file()
}  # the in-repo sets
pytestmark = pytest.mark.skipif(set(SETS) < {"2.0", "2.3", "2.5"}, reason="needs the 2.0, 2.3 and 2.5 reference sets")


def model_file(version: str) -> Path:
    reference = load_reference(SETS[version])
    if version == "2.5":
        return ModelPaths.from_folder(reference.directory).checkpoint  # diffusion_models/<transformer>
    return reference.checkpoint


@pytest.fixture(scope="module")
def loras(tmp_path_factory) -> dict[str, Path]:
    """version -> a LoRA of that version (its metadata says so), shaped from that version's model."""
    folder = tmp_path_factory.mktemp("loras")
    made = {}
    for version in ("2.0", "2.3", "2.5"):
        plain = tiny_lora(model_file(version), folder / f"plain-{version}.safetensors")
        made[version] = folder / f"style-{version}.safetensors"
        mx.save_safetensors(str(made[version]), mx.load(str(plain)), metadata={"model_version": f"{version}.0"})
    return made


def test_the_25_transformer_file_is_checked_like_a_checkpoint():
    found = recognise(model_file("2.5"))
    assert found.role.value == "transformer" and found.version is VERSIONS["2.5"]


@pytest.mark.parametrize("model", ["2.0", "2.3", "2.5"])
@pytest.mark.parametrize("lora", ["2.0", "2.3", "2.5"])
def test_a_lora_is_accepted_only_on_its_own_version(loras, lora: str, model: str):
    path, target = loras[lora], model_file(model)
    if lora == model:
        check_lora_version(path, target)
        assert incompatibility(path, target) == ""
        return
    with pytest.raises(VersionMismatchError) as error:
        check_lora_version(path, target)
    message = str(error.value)
    claimed, used = VERSIONS[lora], VERSIONS[model]
    assert f"is for {claimed.title} ({claimed.parameters}, {claimed.version})" in message
    kind = "transformer" if model == "2.5" else "checkpoint"
    assert f"{target.name} is an {used.title} ({used.parameters}, {used.version}) {kind}" in message
    assert incompatibility(path, target) == message  # the studio's library shows the same sentence


def test_a_lora_without_metadata_is_judged_by_anatomy_and_widths(tmp_path: Path):
    """The 2.3 anatomy markers (gated attention) fit 2.5 too; 2.0's caption projection does not."""
    plain_25 = tiny_lora(model_file("2.5"), tmp_path / "plain-2.5.safetensors")
    plain_20 = tiny_lora(model_file("2.0"), tmp_path / "plain-2.0.safetensors")
    assert incompatibility(plain_25, model_file("2.5")) == ""
    assert "is for LTX-2.3" in incompatibility(plain_25, model_file("2.0"))
    assert "is for LTX-2 (19B, 2.0)" in incompatibility(plain_20, model_file("2.5"))


def test_a_20_lora_is_refused_on_the_25_model_before_loading(loras, tmp_path: Path):
    ledger = ModelLedger(ModelPaths.from_folder(SETS["2.5"]))
    request = GenerationRequest.for_version(VERSIONS["2.5"], "distilled", prompt="x", height=64, width=64, frames=9,
                                            loras=(LoraChoice(loras["2.0"], 1.0),))  # fmt: skip
    with pytest.raises(VersionMismatchError, match="is for LTX-2 "):
        run_job(ledger, "distilled", request, tmp_path / "refused.mp4")
    assert ledger.loaded() == []

"""Write tests/data/guider_reference.npz with the official ltx-core 1.0.0 guiders.

The shared fixtures have no guider cases, so this script records the official outputs for
seeded random inputs. Run it in a scratch environment (never the project's: the official
import name ``ltx_core`` collides with ours):

    python3 -m venv /tmp/refenv && /tmp/refenv/bin/pip install torch==2.13.0 numpy einops scipy safetensors
    pip download --no-deps ltx-core==1.0.0 -d /tmp/ref && /tmp/refenv/bin/pip install --no-deps /tmp/ref/ltx_core-1.0.0-*.whl
    cd /tmp && /tmp/refenv/bin/python /path/to/tools/make_guider_reference.py /path/to/tests/data/guider_reference.npz
"""

import sys

import numpy as np
import torch
from ltx_core.components.guiders import (
    CFGGuider,
    CFGStarRescalingGuider,
    LtxAPGGuider,
    MultiModalGuider,
    MultiModalGuiderFactory,
    MultiModalGuiderParams,
    STGGuider,
)

PARAM_SETS = {
    "cfg_only": dict(cfg_scale=3.0),
    "dev_video": dict(cfg_scale=3.0, stg_scale=1.0, stg_blocks=[29], rescale_scale=0.7, modality_scale=3.0),
    "dev_audio": dict(cfg_scale=7.0, stg_scale=1.0, stg_blocks=[29], rescale_scale=0.7, modality_scale=3.0),
    "stg_modality": dict(cfg_scale=1.0, stg_scale=2.5, modality_scale=2.0),
}


def main(out_path: str) -> None:
    rng = np.random.default_rng(1234)
    arrays = {}
    shape = (1, 48, 16)
    inputs = {name: rng.standard_normal(shape).astype(np.float32) for name in ("cond", "uncond", "perturbed", "modality")}
    arrays.update({f"in/{k}": v for k, v in inputs.items()})
    t = {k: torch.from_numpy(v) for k, v in inputs.items()}

    for name, kwargs in PARAM_SETS.items():
        guider = MultiModalGuider(params=MultiModalGuiderParams(**kwargs))
        arrays[f"multimodal/{name}"] = guider.calculate(t["cond"], t["uncond"], t["perturbed"], t["modality"]).numpy()
    arrays["cfg/scale3"] = CFGGuider(3.0).delta(t["cond"], t["uncond"]).numpy()
    arrays["cfg_star/scale3"] = CFGStarRescalingGuider(3.0).delta(t["cond"], t["uncond"]).numpy()
    arrays["stg/scale1p5"] = STGGuider(1.5).delta(t["cond"], t["perturbed"]).numpy()
    arrays["apg/scale3_eta0p5"] = LtxAPGGuider(3.0, eta=0.5).delta(t["cond"], t["uncond"]).numpy()
    arrays["apg/scale3_eta0p5_norm2"] = LtxAPGGuider(3.0, eta=0.5, norm_threshold=2.0).delta(t["cond"], t["uncond"]).numpy()

    bins = {1.0: MultiModalGuiderParams(cfg_scale=5.0), 0.5: MultiModalGuiderParams(cfg_scale=3.0), 0.1: MultiModalGuiderParams(cfg_scale=2.0)}
    factory = MultiModalGuiderFactory.from_dict(bins)
    sigmas = np.array([1.5, 1.0, 0.75, 0.5, 0.3, 0.1, 0.05, 0.0], dtype=np.float32)
    arrays["factory/sigmas"] = sigmas
    arrays["factory/cfg_scale"] = np.array([factory.params(float(s)).cfg_scale for s in sigmas], dtype=np.float32)
    skip = MultiModalGuider(params=MultiModalGuiderParams(skip_step=2))
    arrays["skip_step2/should_skip"] = np.array([skip.should_skip_step(i) for i in range(8)], dtype=np.bool_)
    np.savez(out_path, **arrays)
    print(f"wrote {len(arrays)} arrays to {out_path}")


if __name__ == "__main__":
    main(sys.argv[1])

"""convbench entry point: ``python run.py [sweep=...] [strategies=[...]] [key=value ...]``.

The only Hydra code in the project: compose the config, hand plain values to the harness.
"""
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

import harness.experiment

# resume=<run> continues in that run's folder; a fresh run gets a new timestamped one
OmegaConf.register_new_resolver("convbench_run_dir", lambda resume, fresh: resume or fresh)
OmegaConf.register_new_resolver("convbench_hydra_subdir", lambda resume, stamp: f".hydra-resume-{stamp}" if resume else ".hydra")


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    try:
        harness.experiment.main(OmegaConf.to_container(cfg, resolve=True),
                                run_dir=hydra_cfg.runtime.output_dir, overrides=list(hydra_cfg.overrides.task))
    except KeyboardInterrupt:
        sys.exit(130)  # the harness has logged how to resume


if __name__ == "__main__":
    main()

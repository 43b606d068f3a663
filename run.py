"""convbench entry point: ``python run.py [sweep=...] [key=value ...]`` (``-v``: tracebacks).  The only Hydra code:
the schema (harness/config.py) registered, the config composed and checked by OmegaConf, a RunConfig handed on."""
import hydra
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from harness import config, errors, experiment
from harness.measure.cpus import CoresTaken
from harness.runfolder import RunFolderBusy

EXPECTED = (ValueError, HydraException, OmegaConfBaseException, CoresTaken, RunFolderBusy)
ConfigStore.instance().store(name="convbench", node=config.RunConfig)
OmegaConf.register_new_resolver("convbench_run_dir", lambda resume, fresh: resume or fresh)  # resume: its folder
OmegaConf.register_new_resolver("convbench_hydra_subdir", lambda resume, stamp: f".hydra-resume-{stamp}" if resume else ".hydra")


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
@errors.kept(EXPECTED)
def main(cfg) -> None:
    hydra_cfg = HydraConfig.get()
    experiment.main(OmegaConf.to_object(cfg), run_dir=hydra_cfg.runtime.output_dir,
                    overrides=list(hydra_cfg.overrides.task), job=experiment.job_id(hydra_cfg.job.get("num")))


if __name__ == "__main__":
    errors.exit_on_error(main, EXPECTED)

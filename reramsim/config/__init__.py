"""Hardware descriptions: the schema (:mod:`.schema`) and the YAML loader (:mod:`.loader`)."""
from reramsim.config.loader import ConfigError, load_config, resolve_config_path
from reramsim.config.schema import Config

__all__ = ["Config", "ConfigError", "load_config", "resolve_config_path"]

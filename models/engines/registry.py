"""Every engine by name: the one map from SHOPBENCH_ENGINE's values to engine classes, and the
only place an engine is constructed (tests/test_layout.py holds every other module to it).

An engine class is named here by where it lives and imported only when one is built, so
importing this module (the settings read their engine names from it) imports neither torch
nor vLLM. Adding an engine: its module under models/engines/, one `EngineKind` below.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from models.settings import ModelSettings


@dataclass(frozen=True)
class EngineKind:
    location: str  # "module:Class"
    # (the class, the settings, the model folder) -> the engine, as the settings ask for it
    make: Callable[[type, ModelSettings, str | None], object]
    local_model: bool = True  # serves a model folder of ours (else the model is the server's)
    served: bool = False  # the model runs behind SHOPBENCH_SERVER_URL: named "MODEL at URL"

    @property
    def class_name(self) -> str:
        return self.location.split(":")[1]


# In the order the settings name them (the default first).
ENGINES: dict[str, EngineKind] = {
    "vllm": EngineKind("models.engines.vllm_engine:VllmEngine",
                       lambda cls, settings, model_dir: cls(model_dir, settings.vllm, settings.vllm_args)),
    "transformers": EngineKind("models.engines.transformers_engine:TransformersEngine",
                               lambda cls, settings, model_dir: cls(model_dir, settings.max_model_len,
                                                                    dtype=settings.transformers_dtype)),
    "openai": EngineKind("models.engines.openai_engine:OpenAIEngine",
                         lambda cls, settings, model_dir: cls(model_dir, settings.server), served=True),
    "chat": EngineKind("models.engines.chat_engine:ChatEngine",
                       lambda cls, settings, model_dir: cls(settings.server), local_model=False, served=True),
}


def engine_class(name: str) -> type:
    """The class of the engine `name`, its module imported now."""
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r} (known: {', '.join(ENGINES)})")
    module, _, cls = ENGINES[name].location.partition(":")
    return getattr(importlib.import_module(module), cls)


def build(name: str, *args, **kwargs):
    """The engine `name`, built from its class's own arguments (tests and benchmarks that set
    them directly)."""
    return engine_class(name)(*args, **kwargs)


def from_settings(settings: ModelSettings) -> tuple[object, str]:
    """(the engine, the model's name) the settings ask for: their model folder, else the
    embedded default's (converted once); a server engine's model is named by the server."""
    kind = ENGINES[settings.engine]
    model_dir, name = None, None
    if kind.local_model:
        if settings.model_dir is None:
            from models import embedded

            model_dir, name = str(embedded.safetensors_copy()), f"{embedded.MODEL_NAME} (embedded default)"
        else:
            model_dir, name = settings.model_dir, settings.model_dir
    engine = kind.make(engine_class(settings.engine), settings, model_dir)
    if kind.served:
        name = f"{engine.model} at {settings.server.url}"
    return engine, name

"""Which model the UserModel serves and how, as plain data.

The evaluator builds `UserModel()` with no arguments, so choices come from here, from the
track aicrowd.json names (its weights folder in shopbench.spec.TRACKS), and from the
environment variables declared in shopbench/environment.py (docs/environment.md lists them).
With SHOPBENCH_ENGINE=openai, generation runs on an OpenAI-compatible completions server
that takes vLLM's extensions (the model folder, or the embedded default's, gives only the
tokenizer); with SHOPBENCH_ENGINE=chat, on any OpenAI-compatible chat server (no tokenizer
here; docs/your-model.md).
"""
from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from shopbench import decoding_config
from shopbench.decoding_config import DecodingConfig
from models.engines import registry as engine_registry
from models.time_guard import TrackDeadline
from shopbench import environment, jsonsafe, spec
from shopbench.environment import (API_KEY_ENV, BATCH_SIZE_ENV, DEADLINE_ENV, ENGINE_ENV, ENGINES, MODEL_DIR_ENV,
                                   PRECISION_ENV, PRECISIONS, SECONDS_ENV, SERVED_MODEL_ENV, SERVER_CONCURRENCY_ENV,
                                   SERVER_TIMEOUT_ENV, SERVER_URL_ENV, TIME_GUARD_ENV, VLLM_ARGS_ENV)
from shopbench.errors import DataError

GPU_MEMORY_SHARE = 0.9  # of each GPU, for a model of one's own (the submission's is its own)
BFLOAT16_CAPABILITY = 8  # compute capability major version from which GPUs have bfloat16
# Context length of the small unquantized models served on CPU (the embedded default, tests).
CPU_CONTEXT = 2048

ROOT = spec.ROOT
SERVER_ENGINES = tuple(name for name, kind in engine_registry.ENGINES.items() if kind.served)  # behind SHOPBENCH_SERVER_URL


def aicrowd_json(root: Path = ROOT) -> Path:
    return root / "aicrowd.json"


def read_aicrowd_json(root: Path = ROOT) -> dict:
    value = jsonsafe.load_file(aicrowd_json(root))
    if not isinstance(value, dict):
        raise DataError(f"{aicrowd_json(root)}: expected a JSON object, got {jsonsafe.kind(value)}")
    return value


def configured_track(root: Path = ROOT) -> spec.Track | None:
    """The track aicrowd.json names, or None when it names none (or cannot be read)."""
    try:
        return spec.TRACK_BY_ID.get(read_aicrowd_json(root).get("challenge_id"))
    except (OSError, ValueError, AttributeError):
        return None


def served_track() -> spec.Track:
    """The track aicrowd.json names (T5 when it names none): its merged, padded, AWQ
    Qwen2-72B is served, and its question count paces the time guard."""
    return configured_track() or spec.ALL_AROUND


@dataclass(frozen=True)
class VllmSettings:
    """vllm.LLM arguments. The defaults are the winners' 4x T4 production settings."""

    quantization: str | None = "awq"
    tensor_parallel_size: int = spec.SUBMISSION_GPUS
    dtype: str = "float16"  # T4 (compute capability 7.5) has no bfloat16
    max_model_len: int = 3072
    gpu_memory_utilization: float = 0.95
    enforce_eager: bool = True
    distributed_executor_backend: str | None = "ray"
    seed: int = spec.DEFAULT_SEED
    # Not a vLLM argument: when set, the KV cache is sized to this many sequences of
    # max_model_len tokens (vLLM's kv_cache_memory_bytes) instead of a share of memory.
    kv_cache_sequences: int | None = None


# The same engine on one CPU machine, for unquantized small models (tests, the embedded default).
VLLM_ON_CPU = VllmSettings(
    quantization=None,
    tensor_parallel_size=1,
    dtype="float32",
    max_model_len=CPU_CONTEXT,
    gpu_memory_utilization=0.2,  # on CPU: the share of memory kept for the KV cache
    distributed_executor_backend=None,
    # One batch of the work, not a share of memory (0.2 of 24 GB): less to allocate, and
    # vLLM skips its warm-up pass when the size is given and execution is eager.
    kv_cache_sequences=spec.MAX_BATCH_SIZE,
)


@dataclass(frozen=True)
class ServerSettings:
    """Where and how the server engines send their requests."""

    url: str  # base URL, the part before /completions
    served_model: str | None = None  # None: the server's only model
    concurrency: int = environment.SERVER_CONCURRENCY
    timeout: float = environment.SERVER_TIMEOUT  # seconds per request
    retries: int = 4  # after connection errors, timeouts and 5xx answers
    backoff: float = 1.0  # seconds before the first retry, doubled for each next one
    seed: int = spec.DEFAULT_SEED
    # OPENAI_API_KEY, sent as a bearer token; left out of repr and comparisons so that no
    # printed settings can show it
    api_key: str | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class ModelSettings:
    model_dir: str | None  # None: the embedded default (SmolLM2-135M-Instruct)
    engine: str
    reason: str  # why this model and engine, for the one line logged at start
    batch_size: int = spec.MAX_BATCH_SIZE
    max_model_len: int = CPU_CONTEXT  # transformers engine; vLLM takes its own
    # Time guard: a batch of n questions gets n times this (SHOPBENCH_SECONDS_PER_QUESTION)
    seconds_per_question: float = environment.SECONDS_PER_QUESTION
    vllm: VllmSettings = field(default_factory=VllmSettings)
    decoding: DecodingConfig = field(default_factory=DecodingConfig)
    track: spec.Track = spec.ALL_AROUND
    deadline: TrackDeadline | None = None  # the whole track's, from SHOPBENCH_TRACK_DEADLINE
    time_guard: bool = False  # shorten answers to keep batches inside their time
    transformers_dtype: str = "float32"  # the transformers engine's weights
    vllm_args: dict = field(default_factory=dict)  # SHOPBENCH_VLLM_ARGS, over `vllm`
    server: ServerSettings | None = None  # the server engines' (openai, chat)


def gpu_capabilities() -> tuple[tuple[int, int], ...]:
    """The compute capability of each visible CUDA GPU; () without torch or CUDA."""
    if importlib.util.find_spec("torch") is None:
        return ()
    import torch

    if not torch.cuda.is_available():
        return ()
    return tuple(torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count()))


def engine_settings(gpus: tuple[tuple[int, int], ...], attention_heads: int | None = None) -> tuple[VllmSettings, str, str]:
    """(vLLM settings, transformers dtype, why) for a model other than the submission's, on a
    machine with these GPUs: as many of them in tensor parallel as divide the model's attention
    heads (vLLM splits heads evenly), bfloat16 where every one has it (compute capability 8 on)
    else float16, vLLM detecting any quantization from the model's config; no GPU: the CPU
    settings."""
    if not gpus:
        return VLLM_ON_CPU, "float32", "no GPU visible: CPU settings"
    dtype = "bfloat16" if all(major >= BFLOAT16_CAPABILITY for major, _ in gpus) else "float16"
    parallel = max(n for n in range(1, len(gpus) + 1) if not attention_heads or attention_heads % n == 0)
    vllm = VllmSettings(
        quantization=None,
        tensor_parallel_size=parallel,
        dtype=dtype,
        gpu_memory_utilization=GPU_MEMORY_SHARE,
        enforce_eager=False,
        distributed_executor_backend="mp" if parallel > 1 else None,
    )
    capabilities = ", ".join(f"{major}.{minor}" for major, minor in gpus)
    return vllm, dtype, f"{len(gpus)} GPU(s) of compute capability {capabilities}: {dtype}, tensor parallel {parallel}"


# Precision without a GPU. One CPU-decided fact, kept apart from the GPU choice above.
CPU_BFLOAT16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})  # /proc/cpuinfo flags of native bfloat16 arithmetic
CPUINFO = Path("/proc/cpuinfo")
# Whether auto picks bfloat16 on a CPU that has it natively. Measured on the embedded model's
# 96 dev questions (docs/speed.md): overall 0.2281 against float32's 0.2255, generation in
# 26.8 s against 55.4 s.
AUTO_BFLOAT16_ON_CPU = True


def cpu_flags(cpuinfo: str) -> frozenset[str]:
    """The feature flags in the text of /proc/cpuinfo (x86 "flags", Arm "Features"), from
    the first processor that lists them; empty when none does."""
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def read_cpu_flags(path: Path = CPUINFO) -> frozenset[str]:
    try:
        return cpu_flags(path.read_text(errors="replace"))
    except OSError:  # not Linux: no flags known, so no native bfloat16 assumed
        return frozenset()


def cpu_precision(flags: frozenset[str], requested: str = "auto", bfloat16_when_native: bool | None = None) -> tuple[str, str]:
    """(dtype, why) for weights on a CPU with these flags. auto: bfloat16 where the CPU
    multiplies it natively (AVX-512 BF16 or AMX) and AUTO_BFLOAT16_ON_CPU says so (the
    decision, measured: docs/speed.md); float32 elsewhere, where bfloat16 would be emulated."""
    native = sorted(CPU_BFLOAT16_FLAGS & flags)
    if requested != "auto":
        return requested, f"{requested} ({PRECISION_ENV}={requested})"
    if not native:
        return "float32", "float32 (no native bfloat16 on this CPU)"
    chosen = AUTO_BFLOAT16_ON_CPU if bfloat16_when_native is None else bfloat16_when_native
    if chosen:
        return "bfloat16", f"bfloat16 (the CPU has {' and '.join(native)})"
    return "float32", (f"float32 (the CPU has {' and '.join(native)}; {PRECISION_ENV}=bfloat16 uses it, "
                       "docs/speed.md says why it is not the default)")


def requested_precision() -> str:
    return environment.get(PRECISION_ENV)


def model_config(model_dir: Path) -> dict:
    """A model folder's config.json, read before any engine loads it (the libraries that load
    it end in a traceback on a file nested thousands deep); one line naming it otherwise."""
    config = jsonsafe.load_file(model_dir / "config.json")
    if not isinstance(config, dict):
        raise DataError(f"{model_dir / 'config.json'}: expected a JSON object, got {jsonsafe.kind(config)}")
    return config


def _attention_heads(config: dict) -> int | None:
    heads = config.get("num_attention_heads")
    return heads if isinstance(heads, int) and not isinstance(heads, bool) and heads > 0 else None


REDACTED = "***"
# Credentials inside any URL (scheme://user:password@host or scheme://token@host), and the
# value of each query-string field of a URL (?api_key=...): secrets go there too.
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@]+@")
_URL_QUERY = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s?#'\"]*\?)([^\s#'\"]*)")


def redact_urls(text: str) -> str:
    """`text` with the credentials and query-string values of every URL in it replaced by
    REDACTED (the field names stay: they say what was given)."""
    text = _URL_CREDENTIALS.sub(lambda m: m.group(1) + REDACTED + "@", str(text))
    return _URL_QUERY.sub(lambda m: m.group(1) + _hidden_query(m.group(2)), text)


def _hidden_query(query: str) -> str:
    """name=value&token -> name=***&***: a field without a name may be the secret itself."""
    return "&".join(f"{field.partition('=')[0]}={REDACTED}" if "=" in field else REDACTED if field else ""
                    for field in query.split("&"))


def server_url() -> str:
    """SHOPBENCH_SERVER_URL without its trailing slash, refused in one line when it is not an
    http(s) base URL, holds credentials (shown with the password hidden) or a query string or
    fragment (not shown: a key may be there)."""
    url = (environment.get(SERVER_URL_ENV) or "").strip().rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is not a number raises here, not at the first request
    except ValueError:
        parts = None
    if "?" in url or "#" in url:  # a path is appended to it: /v1?key=K/models is no URL of the API
        raise ValueError(f"{SERVER_URL_ENV} must be a base URL (scheme, host, port and a path such as /v1) without a query string "
                         f"or fragment (its values are not shown; give a key in {API_KEY_ENV})")
    if parts is not None and (parts.username is not None or parts.password is not None):
        # a user name alone may be a token: only a name before a password is shown
        user = f"{parts.username}:***" if parts.password is not None else "***"
        shown = parts._replace(netloc=f"{user}@{parts.netloc.rpartition('@')[2]}").geturl()
        raise ValueError(f"{SERVER_URL_ENV} holds credentials ({shown}); give the key in {API_KEY_ENV} instead")
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{SERVER_URL_ENV} must be the server's base URL, such as http://127.0.0.1:8000/v1 "
                         f"(the openai and chat engines and training rewrite need it), got {redact_urls(url)!r}")
    return url


def server_settings() -> ServerSettings:
    """The server engines' settings from the environment (SHOPBENCH_SERVER_URL required)."""
    return ServerSettings(server_url(), environment.get(SERVED_MODEL_ENV), environment.get(SERVER_CONCURRENCY_ENV),
                          environment.get(SERVER_TIMEOUT_ENV), seed=environment.run_seed(),
                          api_key=environment.get(API_KEY_ENV))


def from_environment() -> ModelSettings:
    engine = environment.get(ENGINE_ENV)
    server = server_settings() if engine in SERVER_ENGINES else None
    precision = requested_precision()
    track = served_track()
    production = ROOT / track.weights_dir
    chosen = environment.get(MODEL_DIR_ENV)
    if chosen and not (Path(chosen) / "config.json").is_file():
        raise ValueError(f"{MODEL_DIR_ENV} {chosen}: not a model folder (no config.json)")
    if chosen or not (production / "config.json").is_file():
        # the embedded 135M model needs one GPU at most; a model of one's own says its heads
        heads = _attention_heads(model_config(Path(chosen))) if chosen else 1
        gpus = gpu_capabilities()
        vllm, dtype, why = engine_settings(gpus, heads)
        if precision != "auto" or not gpus:
            dtype, chosen_precision = cpu_precision(frozenset() if gpus else read_cpu_flags(), precision)
            vllm, why = replace(vllm, dtype=dtype), f"{why}; {chosen_precision}"
        reason = f"{MODEL_DIR_ENV} is set" if chosen else f"no production weights in {production}"
        if server and engine == "chat":
            reason, why = "SHOPBENCH_ENGINE=chat", f"the model behind the chat API at {server.url}"
        elif server:
            why = f"generation by the server at {server.url}, tokenizer from the model folder"
        settings = ModelSettings(chosen or None, engine or "transformers", f"{reason}; {why}", vllm=vllm,
                                 transformers_dtype=dtype)
    else:
        if precision != "auto":
            raise ValueError(f"{PRECISION_ENV}={precision}: the production weights are AWQ and run in float16 "
                             f"(it applies to the embedded model and {MODEL_DIR_ENV})")
        settings = ModelSettings(str(production), engine or "vllm", "the production weights are present", time_guard=True)
    per_question = environment.get(SECONDS_ENV)
    deadline_text = environment.get(DEADLINE_ENV)
    try:
        deadline = TrackDeadline.parse(deadline_text, track.questions) if deadline_text else None
    except ValueError as exc:
        raise ValueError(f"{DEADLINE_ENV}: {exc}") from None
    time_guard = environment.get(TIME_GUARD_ENV)
    time_guard = settings.time_guard if time_guard is None else time_guard
    batch_size = environment.get(BATCH_SIZE_ENV)
    decoding = decoding_config.from_text(environment.get(decoding_config.DECODING_ENV))
    # The run's seed (AICROWD_RUN_SEED, which the commands' --seed sets) reaches vLLM's
    # sampling; the server engines' requests carry it through `server`.
    vllm = replace(settings.vllm, seed=environment.run_seed())
    return replace(settings, batch_size=batch_size, seconds_per_question=per_question, track=track,
                   deadline=deadline, time_guard=time_guard, vllm=vllm, vllm_args=environment.get(VLLM_ARGS_ENV),
                   server=server, decoding=decoding)

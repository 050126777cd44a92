"""`python -m training finetune`: LoRA fine-tuning of a causal language model on
`training export`'s chat records, through transformers' `Trainer` and PEFT.

The recipe is `training/qlora.yml`, the axolotl file the 72B run uses (paper Table 2): the
LoRA and optimiser settings are read from it (`read_recipe`), and options override them.
The loss is on the assistant turn only, on exactly the tokens inference sends and stops on:
the prompt is `prompts.render_messages` of the system and user turns with the generation
prompt, tokenized as the UserModel tokenizes it (`prompts.token_ids`), followed by the
answer's tokens and the end-of-turn token the decoder stops at (`Vocabulary.stops`).

Work in progress lives in `OUT.partial/` (checkpoints, the log, the run's settings); the
adapter folder appears at OUT only when training is complete.
"""
from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import prompts
from shopbench import data, jsonsafe, spec
from shopbench.data import DataError

RECIPE = spec.ROOT / "training" / "qlora.yml"
LOG_NAME = "training_log.jsonl"
RUN_NAME = "finetune.json"  # the run's settings and outcome, next to the adapter
IGNORE = -100  # the label PyTorch's cross entropy skips


@dataclass(frozen=True)
class Recipe:
    """Table 2 as training/qlora.yml states it; the fields options may override."""

    lora_r: int
    lora_alpha: float
    lora_dropout: float
    target_modules: str | tuple[str, ...]  # "all-linear" (axolotl's lora_target_linear) or module names
    learning_rate: float
    lr_scheduler: str
    weight_decay: float
    warmup_steps: int
    micro_batch_size: int
    gradient_accumulation_steps: int
    sequence_len: int
    num_epochs: float
    optimizer: str
    load_in_4bit: bool
    bf16: bool


# The recipe's fields read under their own names from qlora.yml (the target modules are derived).
_YAML_KEYS = tuple(f.name for f in fields(Recipe) if f.name != "target_modules")


def read_recipe(path=RECIPE) -> Recipe:
    """The one reader of the axolotl recipe: every setting the small run shares with it."""
    import yaml

    try:
        config = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"{path}: cannot read the recipe ({exc})") from None
    if not isinstance(config, dict):
        raise DataError(f"{path}: not a YAML mapping")
    values = {}
    types = {f.name: f.type for f in fields(Recipe)}
    for name in _YAML_KEYS:
        if name not in config:
            raise DataError(f"{path}: '{name}' missing")
        value = config[name]
        expected = types[name]
        ok = {"int": isinstance(value, int) and not isinstance(value, bool),
              "float": isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
              "str": isinstance(value, str), "bool": isinstance(value, bool)}.get(expected, True)
        if not ok:
            raise DataError(f"{path}: '{name}' is {value!r}, expected {expected}")
        values[name] = value
    if config.get("lora_target_linear"):
        values["target_modules"] = "all-linear"
    elif isinstance(config.get("lora_target_modules"), list) and config["lora_target_modules"]:
        values["target_modules"] = tuple(config["lora_target_modules"])
    else:
        raise DataError(f"{path}: neither 'lora_target_linear: true' nor a 'lora_target_modules' list")
    return Recipe(**values)


# ---------------------------------------------------------------- the data

@dataclass(frozen=True)
class ChatRecord:
    line: int
    messages: list  # system, user, assistant: {"role", "content"}

    @property
    def question(self) -> str:
        return self.messages[1]["content"]


_ROLES = ("system", "user", "assistant")


def _system_prompts() -> set[str]:
    named = {prompts.system_prompt(profile) for profile in prompts.TASK_DESCRIPTIONS}
    return named | {prompts.system_prompt(next(iter(prompts.TASK_DESCRIPTIONS)), task_named=False)}


def read_chat_records(path) -> list[ChatRecord]:
    """`training export`'s records, checked line by line: three turns (system, user,
    assistant), a system prompt inference uses, a user turn cleaned as inference cleans it,
    a non-empty answer. Anything else is a one-line error naming the file, line and field."""
    systems = _system_prompts()
    records = []
    for line, record in data.read_json_lines(path):
        def fail(field: str, message: str) -> DataError:
            return DataError(f"{path}:{line}: field '{field}': {message} (write chat records with "
                             "`python -m training export`)")

        messages = record.get("messages")
        if not isinstance(messages, list):
            raise fail("messages", "missing or not a list")
        if len(messages) != 3 or not all(isinstance(m, dict) for m in messages):
            raise fail("messages", "not three turns (system, user, assistant)")
        for position, (message, role) in enumerate(zip(messages, _ROLES)):
            if message.get("role") != role:
                raise fail(f"messages[{position}].role", f"{message.get('role')!r}, expected {role!r}")
            if not isinstance(message.get("content"), str) or not message["content"].strip():
                raise fail(f"messages[{position}].content", "missing or empty")
        if messages[0]["content"] not in systems:
            raise fail("messages[0].content", "not a system prompt inference uses")
        if messages[1]["content"] != prompts.clean_question(messages[1]["content"]):
            raise fail("messages[1].content", "not cleaned as inference cleans questions")
        records.append(ChatRecord(line, messages))
    if not records:
        raise DataError(f"{path}: no chat records")
    return records


def contamination(records: list[ChatRecord], held_out: list[str]) -> str | None:
    """A message naming the first training question that is a question of a held-out file
    (compared as inference cleans them), or None."""
    for path in held_out:
        seen = {prompts.clean_question(q.input_field): q for q in data.load_questions(path)}
        hits = [r for r in records if r.question in seen]
        if hits:
            first = seen[hits[0].question]
            return (f"{len(hits)} training question(s) are questions of {path} (first: data line {hits[0].line} is "
                    f"its question {first.index + 1}, task {first.task_name}): contamination; pass --allow-dev "
                    "to train on them anyway")
    return None


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]  # IGNORE on the prompt's tokens


def encode(messages: list, tokenizer, stops) -> Encoded:
    """The prompt exactly as inference tokenizes it, then the answer and the end-of-turn
    token the decoder stops at; only the latter two are trained."""
    prompt = prompts.render_messages(messages[:-1], tokenizer, add_generation_prompt=True)
    whole = prompts.render_messages(messages, tokenizer, add_generation_prompt=False)
    if not whole.startswith(prompt):
        raise ValueError("the chat template renders the prompt differently once an answer follows")
    prompt_ids = prompts.token_ids(prompt, tokenizer)
    rest = prompts.token_ids(whole[len(prompt):], tokenizer)
    end = next((i for i, token in enumerate(rest) if token in stops), None)
    if end is None:
        raise ValueError("the chat template ends the answer with no token the decoder stops at")
    answer = rest[:end + 1]  # what the model must write: its answer, then stop (template text after is not)
    return Encoded(prompt_ids + answer, [IGNORE] * len(prompt_ids) + answer)


# ---------------------------------------------------------------- settings

@dataclass(frozen=True)
class Precision:
    name: str  # "4-bit NF4 (QLoRA), bfloat16 compute", "bfloat16", "float32", ...
    dtype: str  # the weights' dtype: float32, bfloat16 or float16
    load_in_4bit: bool
    why: str


def choose_precision(requested: str, recipe: Recipe, cuda: bool, bf16_gpu: bool, bitsandbytes: bool) -> Precision:
    """Which precision runs: the recipe's 4-bit loading where a CUDA GPU and bitsandbytes are
    there, else the recipe's bf16 where the GPU has it; on CPU float32 unless asked."""
    if requested != "auto":
        if requested == "4bit" and not (cuda and bitsandbytes):
            raise ValueError("--precision 4bit needs a CUDA GPU and the bitsandbytes package")
        if requested == "4bit":
            compute = "bfloat16" if bf16_gpu else "float16"
            return Precision(f"4-bit NF4 (QLoRA), {compute} compute", compute, True, "--precision 4bit")
        return Precision(requested, requested, False, f"--precision {requested}")
    if cuda:
        compute = "bfloat16" if bf16_gpu and recipe.bf16 else "float16"
        if recipe.load_in_4bit and bitsandbytes:
            return Precision(f"4-bit NF4 (QLoRA), {compute} compute", compute, True, "the recipe's load_in_4bit on a GPU")
        why = "the recipe's load_in_4bit needs bitsandbytes" if recipe.load_in_4bit else "the recipe"
        return Precision(compute, compute, False, f"GPU; {why}")
    return Precision("float32", "float32", False, "CPU: 4-bit loading needs a CUDA GPU and bitsandbytes; "
                     "--precision bfloat16 halves memory on CPU")


@dataclass(frozen=True)
class RunSettings:
    """What fixes a run: a stopped run resumes only with the same."""

    data: str
    data_bytes: int
    model: str
    recipe: dict
    max_steps: int | None
    seed: int
    precision: str

    def to_json(self) -> dict:
        return asdict(self)


def work_folder(out) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".partial")


def valid_checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoints, oldest first: a kill while one was written leaves it without
    its trainer state, which the Trainer writes last."""
    found = []
    for path in folder.glob("checkpoint-*"):
        step = path.name.rpartition("-")[2]
        if step.isdigit() and (path / "trainer_state.json").is_file() and (path / "adapter_model.safetensors").is_file():
            found.append((int(step), path))
    return [path for _, path in sorted(found)]


def read_log(path: Path, upto: int | None) -> list[dict]:
    """The log's lines up to step `upto` (a resumed run logs the later steps again)."""
    if not path.is_file():
        return []
    lines = []
    for text in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = jsonsafe.loads(text, str(path))
        except DataError:  # a line cut by a kill
            continue
        if upto is None or entry.get("step", 0) <= upto:
            lines.append(entry)
    return lines


# ---------------------------------------------------------------- training

@dataclass
class FinetuneResult:
    out: str
    steps: int
    max_steps: int
    records: int
    skipped_long: int
    precision: str
    seconds: float
    first_loss: float | None
    last_loss: float | None
    stopped_by_time: bool
    resumed_from: int | None

    def to_json(self) -> dict:
        return asdict(self)


def _collate(pad_id: int):
    def collate(batch: list[dict]) -> dict:
        import torch

        width = max(len(item["input_ids"]) for item in batch)
        ids = [item["input_ids"] + [pad_id] * (width - len(item["input_ids"])) for item in batch]
        labels = [item["labels"] + [IGNORE] * (width - len(item["labels"])) for item in batch]
        mask = [[1] * len(item["input_ids"]) + [0] * (width - len(item["input_ids"])) for item in batch]
        return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), "attention_mask": torch.tensor(mask)}

    return collate


def _callbacks(log_path: Path, seconds_before: float, total: int, done: int, progress: bool,
               max_seconds: float | None, outcome: dict):
    from tqdm.auto import tqdm
    from transformers import TrainerCallback

    class LogAndProgress(TrainerCallback):
        """One JSON line per logged step, flushed; a bar showing the loss; the time budget."""

        def __init__(self):
            self.started = time.perf_counter()
            self.bar = tqdm(total=total, initial=done, desc="Fine-tuning", unit="step", disable=not progress)

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if "loss" not in logs:
                return
            entry = {"step": state.global_step, "loss": float(logs["loss"]),
                     "learning_rate": float(logs.get("learning_rate", 0.0)),
                     "seconds": round(seconds_before + time.perf_counter() - self.started, 3)}
            with open(log_path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry) + "\n")
                handle.flush()
            outcome.setdefault("first_loss", entry["loss"])
            outcome["last_loss"] = entry["loss"]
            self.bar.set_postfix(loss=f"{entry['loss']:.4f}", lr=f"{entry['learning_rate']:.2e}")

        def on_step_end(self, args, state, control, **kwargs):
            self.bar.update(state.global_step - self.bar.n)
            if max_seconds is not None and time.perf_counter() - self.started >= max_seconds:
                outcome["stopped_by_time"] = True
                control.should_training_stop = True

        def on_train_end(self, args, state, control, **kwargs):
            self.bar.close()

    return LogAndProgress()


def _load_model(model_dir: str, precision: Precision):
    import torch
    from transformers import AutoModelForCausalLM

    dtype = getattr(torch, precision.dtype)
    if precision.load_in_4bit:
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        quantization = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                          bnb_4bit_compute_dtype=dtype)
        model = AutoModelForCausalLM.from_pretrained(model_dir, quantization_config=quantization, dtype=dtype,
                                                     local_files_only=True, device_map={"": 0})
        return prepare_model_for_kbit_training(model)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, local_files_only=True)
    return model.to("cuda") if torch.cuda.is_available() else model


def finetune(records: list[ChatRecord], out, model_dir: str, recipe: Recipe, settings: RunSettings,
             precision: Precision, *, max_steps: int | None, save_steps: int, logging_steps: int, seed: int,
             resume: bool, force: bool, max_minutes: float | None = None, progress: bool = True,
             extra_callbacks=()) -> FinetuneResult:
    """Train a LoRA adapter and write it atomically to `out`. `records` are checked chat
    records; every setting was checked by the caller."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer, Trainer, TrainingArguments, set_seed
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from decoding.constraints import Vocabulary

    out = Path(out)
    work = work_folder(out)
    checkpoints = work / "checkpoints"
    log_path = work / LOG_NAME
    resume_from = None
    if resume:
        saved = jsonsafe.load_file(work / "run.json")
        if saved != settings.to_json():
            differs = [key for key in settings.to_json() if saved.get(key) != settings.to_json()[key]]
            raise ValueError(f"--resume: {work} was started with other settings ({', '.join(differs)}); "
                             "start over with --force")
        found = valid_checkpoints(checkpoints)
        resume_from = found[-1] if found else None
        # Checkpoints after the one resumed from would be overwritten; the log is cut to it.
        step = int(resume_from.name.rpartition("-")[2]) if resume_from else 0
        kept = read_log(log_path, step)
        data.write_atomically(log_path, "".join(json.dumps(entry) + "\n" for entry in kept))
        seconds_before = kept[-1]["seconds"] if kept else 0.0
    else:
        if work.exists():
            shutil.rmtree(work)
        checkpoints.mkdir(parents=True)
        data.write_atomically(work / "run.json", json.dumps(settings.to_json(), indent=1) + "\n")
        seconds_before, step = 0.0, 0

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    stops = set(Vocabulary.scan(tokenizer).stops)
    encoded = [encode(record.messages, tokenizer, stops) for record in records]
    fitting = [e for e in encoded if len(e.input_ids) <= recipe.sequence_len]
    if not fitting:
        raise ValueError(f"no record fits --seq-len {recipe.sequence_len} tokens")
    dataset = [{"input_ids": e.input_ids, "labels": e.labels} for e in fitting]

    set_seed(seed)
    model = _load_model(model_dir, precision)
    lora = LoraConfig(r=recipe.lora_r, lora_alpha=recipe.lora_alpha, lora_dropout=recipe.lora_dropout,
                      target_modules=recipe.target_modules if isinstance(recipe.target_modules, str)
                      else list(recipe.target_modules), bias="none", task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    on_gpu = torch.cuda.is_available()
    arguments = TrainingArguments(
        output_dir=str(checkpoints), max_steps=max_steps if max_steps is not None else -1,
        num_train_epochs=recipe.num_epochs, per_device_train_batch_size=recipe.micro_batch_size,
        gradient_accumulation_steps=recipe.gradient_accumulation_steps, learning_rate=recipe.learning_rate,
        lr_scheduler_type=recipe.lr_scheduler, weight_decay=recipe.weight_decay, warmup_steps=recipe.warmup_steps,
        optim=recipe.optimizer, logging_steps=logging_steps, logging_first_step=True, save_strategy="steps",
        save_steps=save_steps, save_total_limit=2, seed=seed, data_seed=seed, report_to=[], disable_tqdm=True,
        remove_unused_columns=False, dataloader_num_workers=0, use_cpu=not on_gpu,
        bf16=on_gpu and precision.dtype == "bfloat16", fp16=on_gpu and precision.dtype == "float16",
    )
    outcome: dict = {}
    trainer = Trainer(model=model, args=arguments, train_dataset=dataset, data_collator=_collate(
        tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id))
    for callback in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(callback)
    total = trainer.args.max_steps if trainer.args.max_steps > 0 else math.ceil(
        math.ceil(len(dataset) / recipe.micro_batch_size) / recipe.gradient_accumulation_steps * recipe.num_epochs)
    trainer.add_callback(_callbacks(log_path, seconds_before, total, step, progress,
                                    None if max_minutes is None else max_minutes * 60, outcome))
    for callback in extra_callbacks:
        trainer.add_callback(callback)
    began = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    seconds = seconds_before + time.perf_counter() - began

    log = read_log(log_path, None)
    result = FinetuneResult(str(out), trainer.state.global_step, total, len(dataset), len(encoded) - len(fitting),
                            precision.name, round(seconds, 1), log[0]["loss"] if log else None,
                            log[-1]["loss"] if log else None, bool(outcome.get("stopped_by_time")),
                            int(resume_from.name.rpartition("-")[2]) if resume_from else None)
    from weights.checkpoint import output_folder

    with output_folder(out, force) as folder:
        model.save_pretrained(folder, safe_serialization=True)
        (folder / "README.md").unlink(missing_ok=True)  # PEFT's blank model card
        config_path = folder / "adapter_config.json"
        config = jsonsafe.load_file(config_path)
        config["base_model_name_or_path"] = str(model_dir)
        config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        shutil.copy2(log_path, folder / LOG_NAME)
        (folder / RUN_NAME).write_text(json.dumps({"settings": settings.to_json(), "result": result.to_json()},
                                                  indent=1) + "\n", encoding="utf-8")
        for path in folder.iterdir():
            data.give_umask_mode(path)
    shutil.rmtree(work, ignore_errors=True)
    return result


def format_result(result: FinetuneResult) -> str:
    losses = "" if result.first_loss is None else f"; loss {result.first_loss:.4f} -> {result.last_loss:.4f}"
    lines = [f"Adapter written to {result.out}: {result.steps} of {result.max_steps} steps on {result.records} "
             f"records in {result.seconds:.0f} s ({result.precision}){losses}"]
    if result.skipped_long:
        lines.append(f"{result.skipped_long} record(s) longer than --seq-len were left out")
    if result.stopped_by_time:
        lines.append("Stopped by --max-minutes before the last step")
    if result.resumed_from is not None:
        lines.append(f"Resumed from the checkpoint of step {result.resumed_from}")
    return "\n".join(lines)

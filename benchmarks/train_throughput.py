"""Benchmark: SFT and DPO tokens per second and peak memory, TRL defaults against the recipe's speed settings.

A randomly initialised model of a chosen architecture and size (no weights are downloaded) trains on generated
conversations (``distill_data.synthetic``) with a tokenizer trained on them. Each variant runs in its own process,
so peak memory is its own. Usage:

    python benchmarks/train_throughput.py --size tiny --steps 8          # CPU, a couple of minutes
    python benchmarks/train_throughput.py --size 1b --steps 30           # one GPU

Variants:
- ``trl-defaults``: what SFTConfig/DPOConfig do out of the box (padding to the longest in the batch, no packing,
  no gradient checkpointing, the model's default attention, reference log-probs computed on the fly for DPO).
- ``recipe``: the speed settings of recipes/zephyr-7b-beta (packing for SFT; gradient checkpointing; bf16 on
  GPU; ``precompute_ref_log_probs`` for DPO; FlashAttention-2 where the flash_attn package is installed, else
  SDPA; Liger kernels where liger_kernel is installed).

Tokens are the non-padding tokens TRL counts (``num_tokens``), per second over the training steps after the
first (warm-up); DPO's reference pass is timed separately when precomputed.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SIZES: dict[str, dict[str, Any]] = {
    "tiny": {
        "hidden_size": 128,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "1b": {
        "hidden_size": 2048,
        "intermediate_size": 5632,
        "num_hidden_layers": 16,
        "num_attention_heads": 16,
        "num_key_value_heads": 8,
        "vocab_size": 32000,
    },
    # Mistral-7B-v0.1's shape; full fine-tuning does not fit one 80 GB GPU (weights, gradients, Adam states).
    "7b": {
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "vocab_size": 32000,
    },
}


def _data(stage: str, rows: int) -> tuple[Any, list[str]]:
    import datasets

    from distill_data.synthetic import ultrachat_rows, ultrafeedback_rows

    if stage == "sft":
        records = [
            {"messages": [{"role": ("user", "assistant")[i % 2], "content": t} for i, t in enumerate(row["data"])]}
            for row in ultrachat_rows(rows, seed=1)
            if len(row["data"]) >= 2 and all(t.strip() for t in row["data"])
        ]
        texts = [m["content"] for r in records for m in r["messages"]]
    else:
        records = []
        for row in ultrafeedback_rows(rows, seed=1):
            answers = [c["response"] for c in row["completions"] if c["response"].strip()]
            if len(answers) >= 2:
                user = {"role": "user", "content": row["instruction"]}
                records.append(
                    {
                        "chosen": [user, {"role": "assistant", "content": answers[0]}],
                        "rejected": [user, {"role": "assistant", "content": answers[1]}],
                    }
                )
        texts = [m["content"] for r in records for side in ("chosen", "rejected") for m in r[side]]
    return datasets.Dataset.from_list(records), texts


class _Clock:
    """A trainer callback that records (time, tokens) at every logging step."""

    def __init__(self) -> None:
        from transformers import TrainerCallback

        marks: list[tuple[float, float]] = []
        self.marks = marks

        class Callback(TrainerCallback):
            def on_log(self, args, state, control, logs=None, **kwargs):
                if logs and "num_tokens" in logs:
                    marks.append((time.perf_counter(), float(logs["num_tokens"])))

        self.callback = Callback()


def run_variant(stage: str, variant: str, size: str, steps: int, batch: int, max_length: int) -> dict[str, Any]:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    from distill_data.train.chat_template import ZEPHYR
    from distill_data.train.model import train_tokenizer

    gpu = torch.cuda.is_available()
    dataset, texts = _data(stage, rows=max(64, steps * batch * 2))
    tokenizer = train_tokenizer(texts, 4000)
    tokenizer.chat_template = ZEPHYR
    recipe = variant == "recipe"
    attention = "sdpa"
    if recipe and gpu and importlib.util.find_spec("flash_attn"):
        attention = "flash_attention_2"
    settings = dict(SIZES[size])
    settings["vocab_size"] = max(settings.get("vocab_size", 0), len(tokenizer))
    config = AutoConfig.for_model(
        "mistral",
        max_position_embeddings=max(4096, max_length),
        sliding_window=None,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **settings,
    )
    torch.manual_seed(0)
    dtype = torch.bfloat16 if gpu else torch.float32
    model = AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation=attention)
    common = {
        "output_dir": "/tmp/train-throughput",
        "per_device_train_batch_size": batch,
        "max_steps": steps,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,
        "bf16": gpu,
        "use_cpu": not gpu,
        "learning_rate": 1e-5,
        "max_length": max_length,
        "seed": 0,
    }
    if recipe:
        common["gradient_checkpointing"] = True
        common["gradient_checkpointing_kwargs"] = {"use_reentrant": False}
        if importlib.util.find_spec("liger_kernel"):
            common["use_liger_kernel"] = True
    clock = _Clock()
    if gpu:
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    if stage == "sft":
        args = SFTConfig(**common, packing=recipe)
        trainer = SFTTrainer(
            model=model, args=args, train_dataset=dataset, processing_class=tokenizer, callbacks=[clock.callback]
        )
    else:
        args = DPOConfig(**common, beta=0.1, precompute_ref_log_probs=recipe)
        # A model built from a config has no name to reload a reference copy from: hand TRL one.
        reference = None if recipe else copy.deepcopy(model)
        trainer = DPOTrainer(
            model=model,
            ref_model=reference,
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=[clock.callback],
        )
    trainer.train()
    total = time.perf_counter() - started
    (t0, n0), (t1, n1) = clock.marks[0], clock.marks[-1]
    peak = (
        torch.cuda.max_memory_allocated() / 2**30 if gpu else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    )
    return {
        "stage": stage,
        "variant": variant,
        "size": size,
        "device": torch.cuda.get_device_name() if gpu else "cpu",
        "attention": attention,
        "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "tokens_per_s": (n1 - n0) / (t1 - t0) if t1 > t0 else float("nan"),
        "peak_gib": peak,
        "wall_s": total,
        "steps": steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--stages", default="sft,dpo")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    parser.add_argument("--child", nargs=2, metavar=("STAGE", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = run_variant(args.child[0], args.child[1], args.size, args.steps, args.batch, args.max_length)
        print("RESULT " + json.dumps(result))
        return
    results = []
    print(f"{'stage':<6}{'variant':<14}{'device':<26}{'params':>9}{'tokens/s':>11}{'peak':>11}{'wall':>8}")
    for stage in args.stages.split(","):
        for variant in ("trl-defaults", "recipe"):
            command = [
                sys.executable,
                __file__,
                "--size",
                args.size,
                "--steps",
                str(args.steps),
                "--batch",
                str(args.batch),
                "--max-length",
                str(args.max_length),
                "--child",
                stage,
                variant,
            ]
            done = subprocess.run(command, capture_output=True, text=True)
            lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
            if done.returncode or not lines:
                print(f"{stage:<6}{variant:<14}failed: {(done.stderr.strip().splitlines() or ['?'])[-1][:150]}")
                continue
            r = json.loads(lines[-1][len("RESULT ") :])
            results.append(r)
            unit = "GiB" if r["device"] != "cpu" else "GiB RSS"
            print(
                f"{stage:<6}{variant:<14}{r['device'][:25]:<26}{r['params_m']:>8.0f}M{r['tokens_per_s']:>11,.0f}"
                f"{r['peak_gib']:>7.2f} {unit:<3}{r['wall_s']:>7.0f}s"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

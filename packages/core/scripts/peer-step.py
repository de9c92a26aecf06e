"""The peer of `bench:step --preset peer`: the same model and training step on PyTorch + HF PEFT.

BertForSequenceClassification: 2 layers, hidden 128, 4 heads, FFN 512, vocabulary 8000, 512
positions, dropout 0.1 (hidden and attention), 2 labels; batch 16 x 128 tokens of random ids, all
attended; a step = forward + cross-entropy + backward + AdamW(lr 1e-4) + zero_grad(set_to_none).
Methods: full fine-tuning; LoRA (HF PEFT LoraConfig(task_type=SEQ_CLS, r=8, lora_alpha=8,
target_modules=["query", "value"], lora_dropout=0.0)); BitFit (every parameter named *bias*, plus
the classifier).

Run from this folder with the project's HF Python environment:
    run.sh peer-step.py [--threads 1 2] [--methods full lora bitfit] [--steps 20] [--warmup 3]
Prints one JSON object per line: per method one memory reading (1 thread) and one timing per
thread count, each in a fresh child process so that memory high-water marks do not mix.

Memory, two ways (torch has no allocator statistics for CPU tensors):
- `allocatorPeakBytes`: torch.profiler's memory profile of one step (profile_memory): every CPU
  tensor allocation and free in order; the peak of their running sum over the step. Tensors alive
  before the step (weights, optimizer state) are not counted, like core's memory meter, which
  subtracts the resident baseline.
- `rssPeakBytes`: the process's resident-set high-water mark over one step minus its resident set
  just before (Linux /proc/self/clear_refs resets the mark), with glibc told to serve every block
  over 64 KiB by mmap so freed tensors leave the resident set at once. It includes what is not a
  tensor (autograd graph nodes, the profiler is off), so it is an upper bound.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def parse():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--methods", nargs="+", default=["full", "lora", "bitfit"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--child", nargs=3, metavar=("MODE", "METHOD", "THREADS"))
    return parser.parse_args()


def build(method):
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=8000,
        hidden_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=512,
        max_position_embeddings=512,
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        num_labels=2,
    )
    model = BertForSequenceClassification(config)
    if method == "lora":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=8, lora_alpha=8, target_modules=["query", "value"], lora_dropout=0.0))
    elif method == "bitfit":
        for name, parameter in model.named_parameters():
            parameter.requires_grad = "bias" in name or "classifier" in name
    model.train()
    return model, config


def rss_bytes(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def allocator_peak(step):
    """Peak of the running sum of CPU tensor allocations minus frees over one profiled step."""
    import torch
    from torch.profiler import ProfilerActivity, profile
    from torch.profiler._memory_profiler import Action

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True, with_stack=True) as prof:
        step()
    live = 0
    peak = 0
    for _, action, key_version, size in prof._memory_profile().timeline:
        key = key_version[0] if isinstance(key_version, tuple) else key_version
        if key is None or getattr(key, "device", None) is None or key.device.type != "cpu":
            continue
        if action == Action.CREATE:
            live += size
        elif action == Action.DESTROY:
            live -= size
        peak = max(peak, live)
    return peak


def child(mode, method, threads, steps, warmup):
    import torch
    import transformers
    import peft

    torch.set_num_threads(threads)
    model, config = build(method)
    attn = getattr(model.config, "_attn_implementation", None) or getattr(config, "_attn_implementation", "unknown")
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    generator = torch.Generator().manual_seed(1)
    batch, seq = 16, 128
    input_ids = torch.randint(0, config.vocab_size, (batch, seq), generator=generator)
    attention_mask = torch.ones(batch, seq, dtype=torch.long)
    labels = torch.randint(0, 2, (batch,), generator=generator)

    def step():
        loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.item()

    for _ in range(warmup):
        step()
    result = {}
    if mode == "memory":
        before = rss_bytes("VmRSS")
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        step()
        result["rssPeakBytes"] = rss_bytes("VmHWM") - before
        try:
            result["allocatorPeakBytes"] = allocator_peak(step)
        except Exception as error:  # the private memory profile API moved: say so, keep the RSS figure
            result["allocatorPeakBytes"] = f"unavailable: {error}"
    else:
        times = []
        for _ in range(steps):
            started = time.perf_counter()
            step()
            times.append((time.perf_counter() - started) * 1000)
        median = statistics.median(times)
        result.update(
            medianMsPerStep=round(median, 1),
            minMsPerStep=round(min(times), 1),
            maxMsPerStep=round(max(times), 1),
            tokensPerSecond=round(batch * seq * 1000 / median),
            steps=steps,
        )
    print(
        json.dumps(
            {
                "framework": f"torch {torch.__version__} + transformers {transformers.__version__} + peft {peft.__version__}",
                "attention": attn,
                "method": method,
                "threads": torch.get_num_threads(),
                "batch": batch,
                "seq": seq,
                "trainableParameters": sum(parameter.numel() for parameter in trainable),
                "mode": mode,
                **result,
            }
        ),
        flush=True,
    )


def main():
    args = parse()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]), args.steps, args.warmup)
        return
    # Memory in its own child with glibc told to mmap every block over 64 KiB (so that freed
    # tensors leave the resident set): that makes every allocation a fresh mapping, far slower,
    # so the timed child runs with the allocator as a user has it.
    memory_env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="0")
    for method in args.methods:
        base = [sys.executable, __file__, "--steps", str(args.steps), "--warmup", str(args.warmup), "--child"]
        subprocess.run(base + ["memory", method, "1"], env=memory_env, check=True)
        for threads in args.threads:
            subprocess.run(base + ["time", method, str(threads)], check=True)


if __name__ == "__main__":
    main()

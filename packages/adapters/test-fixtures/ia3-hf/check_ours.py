"""Loads the IA3 adapters @peftjs/adapters wrote (ours-*/, written by
scripts/write-ia3-hf-fixtures.ts) with HF PEFT in Python, and compares Python's logits with
ours (ours-expected.json). Exits 1 if any differs by more than 1e-4, or if an adapter fails to
move the logits by far more than that (a load that ignored the tensors would then pass).

Run with torch, transformers and HF PEFT v0.20.0 (from this folder):  python3 check_ours.py
"""

import json
import os
import sys

import torch
from peft import PeftModel
from transformers import BertForSequenceClassification, GPT2ForSequenceClassification, GPT2LMHeadModel

TOLERANCE = 1e-4
CLASSES = {
    ("bert", "sequence-classification"): BertForSequenceClassification,
    ("gpt2", "sequence-classification"): GPT2ForSequenceClassification,
    ("gpt2", "causal-lm"): GPT2LMHeadModel,
}


def flat(x):
    return [v for item in x for v in flat(item)] if isinstance(x, list) else [x]


def max_difference(a, b):
    a, b = flat(a), flat(b)
    assert len(a) == len(b), (len(a), len(b))
    return max(abs(x - y) for x, y in zip(a, b))


def logits_of(model, expected):
    with torch.no_grad():
        output = model(input_ids=torch.tensor(expected["inputIds"]), attention_mask=torch.tensor(expected["attentionMask"]))
    return output.logits.tolist()


def main():
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    with open("ours-expected.json") as f:
        expected = json.load(f)
    failed = False
    for name, adapter in expected["adapters"].items():
        model_class = CLASSES[(adapter["base"], adapter["task"])]
        base = model_class.from_pretrained(adapter["base"]).eval()
        base_logits = logits_of(base, expected)
        loaded = PeftModel.from_pretrained(base, name).eval()
        logits = logits_of(loaded, expected)
        base_gap = max_difference(base_logits, adapter["baseLogits"])
        moved = max_difference(logits, base_logits)
        gap = max_difference(logits, adapter["logits"])
        ok = base_gap <= TOLERANCE and moved > 100 * TOLERANCE and gap <= TOLERANCE
        failed |= not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: |python - peftjs| = {gap:.2e}, adapter moves logits by {moved:.2e}, base |python - peftjs| = {base_gap:.2e}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

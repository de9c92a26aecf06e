"""Loads adapters peftjs wrote in HF PEFT's format (write-peftjs-adapters.ts) with HF PEFT in Python and
compares the logits to peftjs's (max |difference| <= 1e-4), after checking each adapter changes the
base model's logits by far more than that.

Run from packages/prompts with the hf-python tool (which mounts the current directory):
    run.sh scripts/hf/check_peftjs_files.py <mount point>/src/__fixtures__/hf <mount point>/<peftjs adapters dir>
"""

import json
import os
import sys

import torch
from transformers import BertForSequenceClassification, GPT2LMHeadModel
from peft import PeftModel

FIXTURES, WRITTEN = sys.argv[1], sys.argv[2]
failures = 0
for name in sorted(os.listdir(WRITTEN)):
    case = os.path.join(WRITTEN, name)
    with open(os.path.join(case, "expected.json")) as f:
        expected = json.load(f)
    base_dir = os.path.join(FIXTURES, expected["base"], "base")
    cls = BertForSequenceClassification if name.startswith("bert") else GPT2LMHeadModel
    base = cls.from_pretrained(base_dir).eval()
    kwargs = {"input_ids": torch.tensor(expected["inputIds"]), "attention_mask": torch.tensor(expected["attentionMask"])}
    if "tokenTypeIds" in expected:
        kwargs["token_type_ids"] = torch.tensor(expected["tokenTypeIds"])
    with torch.no_grad():
        base_logits = base(**kwargs).logits
    model = PeftModel.from_pretrained(base, os.path.join(case, "adapter")).eval()
    with torch.no_grad():
        logits = model(**kwargs).logits
    ours = torch.tensor(expected["logits"])
    if logits.shape != ours.shape:  # HF keeps the virtual tokens' rows of a causal LM with a prompt
        logits = logits[:, logits.shape[1] - ours.shape[1]:]
    effect = (ours - base_logits[..., : ours.shape[-1]]).abs().max().item() if ours.shape == base_logits.shape else float("inf")
    difference = (logits - ours).abs().max().item()
    ok = difference <= 1e-4 and effect > 1e-2
    failures += 0 if ok else 1
    print(f"{'ok  ' if ok else 'FAIL'} {name}: max |HF - peftjs| = {difference:.2e}, adapter effect = {effect:.3f}")
sys.exit(1 if failures else 0)

"""Golden fixtures for @peftjs/prompts, made by HF PEFT itself (peft v0.20.0, transformers 5.x, torch).

For each case: a tiny randomly initialised base model (`base/`, HF `save_pretrained`), an adapter trained
nowhere but moved away from its init (`adapter/`, HF PEFT `save_pretrained`), and `expected.json` with the
inputs (a padded batch) and the logits HF PEFT computes in eval mode after loading the adapter back with
`PeftModel.from_pretrained` (so the logits are those of the saved file). Causal-LM prompt logits keep only
the rows of the real tokens (HF returns the virtual tokens' rows too; peftjs strips them).

Run from packages/prompts with the hf-python tool (which mounts the current directory):
    run.sh scripts/hf/make_fixtures.py <mount point>/src/__fixtures__/hf
"""

import json
import os
import shutil
import sys

import torch
from transformers import BertConfig, BertForSequenceClassification, GPT2Config, GPT2LMHeadModel
from peft import (
    PeftModel,
    PrefixTuningConfig,
    PromptEncoderConfig,
    PromptTuningConfig,
    TaskType,
    get_peft_model,
)

OUT = sys.argv[1]

INPUT_IDS = [[5, 6, 7, 8, 9, 10], [11, 12, 13, 0, 0, 0]]
ATTENTION_MASK = [[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]]
TOKEN_TYPE_IDS = [[0, 0, 0, 1, 1, 1], [0, 0, 1, 0, 0, 0]]


def bert_base():
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=64, type_vocab_size=2, num_labels=3, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    return BertForSequenceClassification(config).eval()


def gpt2_base():
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=100, n_embd=32, n_layer=2, n_head=4, n_positions=64, n_inner=64,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0,
    )
    return GPT2LMHeadModel(config).eval()


def perturb(model):
    """Moves every trainable tensor (prompt encoder and the classifier copy) away from its init."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.requires_grad:
                parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.5)


def logits_of(model, kind, num_virtual, prompt_like):
    ids = torch.tensor(INPUT_IDS)
    mask = torch.tensor(ATTENTION_MASK)
    kwargs = {"input_ids": ids, "attention_mask": mask}
    if kind == "bert":
        kwargs["token_type_ids"] = torch.tensor(TOKEN_TYPE_IDS)
    with torch.no_grad():
        logits = model(**kwargs).logits
    if kind == "gpt2" and prompt_like:
        logits = logits[:, num_virtual:]
    return logits


def make_case(name, kind, peft_config, num_virtual, prompt_like):
    case_dir = os.path.join(OUT, name)
    shutil.rmtree(case_dir, ignore_errors=True)
    base = bert_base() if kind == "bert" else gpt2_base()
    base.save_pretrained(os.path.join(case_dir, "base"))
    base_logits = logits_of(base, kind, 0, False)
    tuned = get_peft_model(base, peft_config)
    perturb(tuned)
    tuned.eval()
    tuned.save_pretrained(os.path.join(case_dir, "adapter"))
    fresh = bert_base() if kind == "bert" else gpt2_base()
    loaded = PeftModel.from_pretrained(fresh, os.path.join(case_dir, "adapter")).eval()
    logits = logits_of(loaded, kind, num_virtual, prompt_like)
    effect = (logits - base_logits).abs().max().item()
    assert effect > 1e-2, f"{name}: the adapter barely changes the logits ({effect})"
    expected = {
        "inputIds": INPUT_IDS,
        "attentionMask": ATTENTION_MASK,
        **({"tokenTypeIds": TOKEN_TYPE_IDS} if kind == "bert" else {}),
        "logits": logits.tolist(),
        "baseLogits": base_logits.tolist(),
    }
    with open(os.path.join(case_dir, "expected.json"), "w") as f:
        json.dump(expected, f)
    print(f"{name}: max |adapter effect| = {effect:.4f}")


SEQ_CLS = TaskType.SEQ_CLS
CAUSAL = TaskType.CAUSAL_LM

make_case("bert-prompt-tuning", "bert", PromptTuningConfig(task_type=SEQ_CLS, num_virtual_tokens=4), 4, True)
make_case("bert-prefix-tuning", "bert", PrefixTuningConfig(task_type=SEQ_CLS, num_virtual_tokens=3), 3, False)
make_case(
    "bert-prefix-projection", "bert",
    PrefixTuningConfig(task_type=SEQ_CLS, num_virtual_tokens=3, prefix_projection=True, encoder_hidden_size=16), 3, False,
)
make_case(
    "bert-p-tuning", "bert",
    PromptEncoderConfig(task_type=SEQ_CLS, num_virtual_tokens=4, encoder_hidden_size=16), 4, True,
)
make_case("gpt2-prompt-tuning", "gpt2", PromptTuningConfig(task_type=CAUSAL, num_virtual_tokens=4), 4, True)
make_case("gpt2-prefix-tuning", "gpt2", PrefixTuningConfig(task_type=CAUSAL, num_virtual_tokens=3), 3, False)
make_case(
    "gpt2-prefix-projection", "gpt2",
    PrefixTuningConfig(task_type=CAUSAL, num_virtual_tokens=3, prefix_projection=True, encoder_hidden_size=16), 3, False,
)
make_case(
    "gpt2-p-tuning-lstm", "gpt2",
    PromptEncoderConfig(task_type=CAUSAL, num_virtual_tokens=4, encoder_hidden_size=16, encoder_reparameterization_type="LSTM"),
    4, True,
)

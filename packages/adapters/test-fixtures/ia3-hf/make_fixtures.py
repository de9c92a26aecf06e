"""Golden fixtures for @peftjs/adapters' (IA)3 in HF PEFT's file format (peft_type IA3).

Run with torch, transformers and HF PEFT v0.20.0 (from this folder):  python3 make_fixtures.py
Writes, next to this script:
  bert/, gpt2/          tiny base checkpoints (save_pretrained: config.json + model.safetensors)
  hf-<name>/            IA3 adapters made and saved by HF PEFT (adapter_config.json +
                        adapter_model.safetensors), their tensors set to seeded random values
  hf-expected.json      the inputs, and the logits Python computes with and without each adapter
"""

import json
import os

import torch
from peft import IA3Config, PeftModel, get_peft_model
from transformers import BertConfig, BertForSequenceClassification, GPT2Config, GPT2ForSequenceClassification, GPT2LMHeadModel

HERE = os.path.dirname(os.path.abspath(__file__))
# Padding id 0 (no real token is 0): right-padded rows, as the attention mask says.
INPUT_IDS = [[5, 17, 3, 29, 11, 8, 41], [7, 2, 33, 19, 0, 0, 0], [12, 9, 0, 0, 0, 0, 0]]
ATTENTION_MASK = [[1 if token != 0 else 0 for token in row] for row in INPUT_IDS]


def base_bert():
    torch.manual_seed(1)
    config = BertConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=32, num_labels=3, initializer_range=0.2, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0, pad_token_id=0,
    )
    return BertForSequenceClassification(config).eval()


def base_gpt2():
    torch.manual_seed(2)
    config = GPT2Config(
        vocab_size=50, n_embd=16, n_layer=2, n_head=2, n_positions=32, num_labels=3, initializer_range=0.2,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, pad_token_id=0,
    )
    return GPT2ForSequenceClassification(config).eval()


def randomize_trainable(model, seed):
    """Moves every trainable tensor (the ia3_l vectors and the modules_to_save head) far from its init."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if not parameter.requires_grad:
                continue
            noise = torch.randn(parameter.shape, generator=generator)
            if "ia3_l" in name:
                parameter.copy_(1.0 + 0.5 * noise)
            else:
                parameter.add_(0.3 * noise)


def logits_of(model):
    with torch.no_grad():
        output = model(input_ids=torch.tensor(INPUT_IDS), attention_mask=torch.tensor(ATTENTION_MASK))
    return output.logits.tolist()


def flat(x):
    return [v for item in x for v in flat(item)] if isinstance(x, list) else [x]


def make_adapter(name, base_dir, load_base, config, seed):
    base = load_base(base_dir)
    base_logits = logits_of(base)
    model = get_peft_model(base, config)
    randomize_trainable(model, seed)
    model.eval()
    logits = logits_of(model)
    model.save_pretrained(f"hf-{name}")
    os.remove(f"hf-{name}/README.md")  # the generated model card template
    reloaded = PeftModel.from_pretrained(load_base(base_dir), f"hf-{name}").eval()
    assert max(abs(a - b) for a, b in zip(flat(logits_of(reloaded)), flat(logits))) < 1e-6
    return {"base": base_dir, "logits": logits, "baseLogits": base_logits}


def main():
    os.chdir(HERE)
    base_bert().save_pretrained("bert")
    base_gpt2().save_pretrained("gpt2")
    expected = {"inputIds": INPUT_IDS, "attentionMask": ATTENTION_MASK, "adapters": {}}
    adapters = expected["adapters"]
    # HF PEFT's BERT defaults: key, value and every "output.dense" (the attention output projection
    # and the FFN down projection), the latter two as feed-forward (input-scaling) modules.
    adapters["bert-seq-cls"] = make_adapter(
        "bert-seq-cls", "bert", lambda d: BertForSequenceClassification.from_pretrained(d).eval(),
        IA3Config(task_type="SEQ_CLS"), 11,
    )
    # GPT-2's defaults: the fused c_attn ([out, 1]) and mlp.c_proj (feed-forward, [1, in]); fan_in_fan_out.
    adapters["gpt2-seq-cls"] = make_adapter(
        "gpt2-seq-cls", "gpt2", lambda d: GPT2ForSequenceClassification.from_pretrained(d).eval(),
        IA3Config(task_type="SEQ_CLS"), 12,
    )
    # A causal LM (tied LM head, nothing to save), targets as a regular expression.
    adapters["gpt2-causal-lm"] = make_adapter(
        "gpt2-causal-lm", "gpt2", lambda d: GPT2LMHeadModel.from_pretrained(d).eval(),
        IA3Config(task_type="CAUSAL_LM", target_modules=r".*\.h\.\d+\.(attn\.c_attn|mlp\.c_fc)", feedforward_modules=r".*\.mlp\.c_fc"), 13,
    )
    with open("hf-expected.json", "w") as f:
        json.dump(expected, f)
        f.write("\n")


if __name__ == "__main__":
    main()

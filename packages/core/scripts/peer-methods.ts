/**
 * The three training setups of the peer comparison, applied to a core BertModel the way the
 * PyTorch script (peer-step.py) applies them to HF's BertForSequenceClassification:
 * - full: every parameter trains;
 * - lora: LoRA r=8, alpha=8, no LoRA dropout on attention query and value (HF PEFT
 *   LoraConfig(task_type=SEQ_CLS, r=8, target_modules=["query", "value"]): the base model frozen,
 *   the classifier trained as a module to save);
 * - bitfit: every bias (LayerNorm's beta included) trains, plus the classifier (BitFit, Ben Zaken et al., §2).
 *
 * The LoRA layer is a local copy of @peftjs/lora's forward (core cannot depend on its own
 * dependents): y = base(x) + ((x·A)·s)·B, added without keeping y (leanAdd).
 */
import { leanAdd } from '../src/grad/lean-add';
import type { BertModel } from '../src/models/bert-model';
import type { Linear } from '../src/nn/linear';
import { Module } from '../src/nn/module';
import { Parameter } from '../src/nn/parameter';
import { tf } from '../src/nn/tf';
import { globalSeeds } from '../src/util/random';

export const PEER_METHODS = ['full', 'lora', 'bitfit'] as const;
export type PeerMethod = (typeof PEER_METHODS)[number];

class BenchLoraLinear extends Module {
  readonly scaling: number;
  constructor(
    readonly base: Linear,
    r: number,
    alpha: number,
  ) {
    super();
    this.scaling = alpha / r;
    this.registerModule('base', base);
    // Kaiming-uniform(a=√5) like nn.Linear and HF PEFT's lora_A: bound 1/√in.
    const bound = 1 / Math.sqrt(base.inFeatures);
    this.registerParameter('loraA', new Parameter(tf.randomUniform([base.inFeatures, r], -bound, bound, 'float32', globalSeeds().nextSeed()), { kind: 'lora_A' }));
    this.registerParameter('loraB', new Parameter(tf.zeros([r, base.outFeatures]), { kind: 'lora_B' }));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const y = this.base.forward(x);
      const flat = x.reshape([-1, this.base.inFeatures]) as tf.Tensor2D;
      const down = tf.matMul(flat, this.parameter('loraA').value as tf.Tensor2D);
      return leanAdd(y, tf.matMul(tf.mul(down, this.scaling), this.parameter('loraB').value as tf.Tensor2D).reshape(y.shape));
    });
  }
}

/** Replaces a child in place (scripts only: Module.registerModule is protected to keep the tree's API small). */
function replaceChild(parent: Module, name: string, child: Module): void {
  (parent as unknown as { registerModule(name: string, module: Module): void }).registerModule(name, child);
}

/** Sets which parameters train (and wraps the LoRA targets); returns the trainable ones. */
export function applyPeerMethod(model: BertModel, method: PeerMethod): Parameter[] {
  if (method === 'full') return model.parameters().filter((parameter) => parameter.trainable);
  for (const parameter of model.parameters()) parameter.freeze();
  if (method === 'lora') {
    for (const [path, module] of model.namedModules()) {
      if (!(module instanceof Module) || !path.endsWith('.attention')) continue;
      for (const name of ['query', 'value']) replaceChild(module, name, new BenchLoraLinear(module.child<Linear>(name), 8, 8));
    }
  } else {
    // HF names LayerNorm's beta `bias`, and BitFit trains it too.
    for (const [name, parameter] of model.namedParameters()) if (name.endsWith('.bias') || name.endsWith('.beta')) parameter.unfreeze();
  }
  for (const [name, parameter] of model.namedParameters()) if (name.startsWith('head.')) parameter.unfreeze();
  return model.parameters().filter((parameter) => parameter.trainable);
}

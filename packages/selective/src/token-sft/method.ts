import { type AppliedMethod, definePeftMethod, fromSelection, type Module, notInHead, PeftError, ReferenceTransformer, type SlotClaim } from '@peftjs/core';
import { tokenSftConfigSchema, type TokenSftConfig } from './config';
import { TokenSftLayerRunner } from './layer-runner';
import { TokenSftMeanPooler } from './mean-pooler';

function checkModel(model: Module<any, any>, config: TokenSftConfig): ReferenceTransformer {
  if (!(model instanceof ReferenceTransformer)) {
    throw new PeftError('invalid-argument', 'token-sft needs a reference transformer (BertModel) with a replaceable layer runner.', {
      field: 'model',
      value: model.constructor.name,
      allowed: 'BertModel',
    });
  }
  if (config.pooling === 'mean' && !model.maybeChild('pooler')) {
    throw new PeftError('invalid-config', "token-sft: pooling 'mean' replaces the model's pooler, and this model has none (a sequence-classification or regression BertModel has one).", {
      field: 'token-sft.pooling',
      value: config.pooling,
      allowed: ["'cls'", 'a model with a pooler'],
    });
  }
  return model;
}

/** What the method trains by itself: nothing, or every parameter outside the embeddings (and the head, through trainHead). */
function trainedSelection(model: ReferenceTransformer, config: TokenSftConfig): AppliedMethod | undefined {
  if (config.trainParameters === 'none') return undefined;
  const outsideHead = notInHead(model);
  const subset = model
    .namedParameters()
    .filter(([path, parameter]) => (config.trainEmbeddings || !path.startsWith('embeddings.')) && outsideHead({ path, parameter, module: model, modulePath: '' }))
    .map(([path, parameter]) => ({ path, parameter }));
  return fromSelection({ name: 'token-sft', model, subset, trainHead: true, mergeable: true });
}

/**
 * Token-position selective fine-tuning (Simoulin et al., "Memory-Efficient Selective
 * Fine-Tuning", §2): at each training step, k random positions per sequence ([CLS] always, padding
 * never) carry gradient through every layer; the other positions are computed without tape and
 * enter attention only as constant keys and values. The tape then holds k rows per layer instead
 * of the whole sequence, which cuts the activation memory of a step (the paper's Figure 2).
 *
 * It installs a layer runner (slot `<stack>.layerRunner`) that does this while the model trains
 * and is the plain loop in eval, and (pooling 'mean') a pooler taking the mean of the selected
 * states in training and of all real states in eval (Eq. 1). With trainParameters 'all' it trains
 * every parameter except the embeddings; with 'none' the methods composed with it decide.
 *
 * @example
 * const tuned = peft(model, [tokenSft({ k: 16 })]);                                  // full fine-tuning through 16 positions
 * const light = peft(model, [lora({ r: 8 }), tokenSft({ k: 16, trainParameters: 'none' })]); // SFT + LoRA (§3.3)
 */
export const tokenSftMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'token-sft',
  packageName: '@peftjs/selective',
  kind: 'selective',
  description: 'Propagates gradient through k random token positions per sequence (memory-efficient selective fine-tuning); mean pooling.',
  configSchema: tokenSftConfigSchema,
  apply(model, config): AppliedMethod {
    const transformer = checkModel(model, config);
    const stackPath = transformer.namedModules().find(([, module]) => module === transformer.stack)?.[0] ?? 'encoder';
    const runner = new TokenSftLayerRunner({ k: config.k, seed: config.seed, isTraining: () => transformer.training });
    const previousRunner = transformer.layerRunner;
    const selection = trainedSelection(transformer, config);
    let pooler: TokenSftMeanPooler | undefined;
    let installed = false;
    const install = (): void => {
      if (installed) return;
      transformer.layerRunner = runner;
      if (config.pooling === 'mean') pooler = transformer.replaceModule('pooler', (current) => new TokenSftMeanPooler(current, runner.state));
      installed = true;
    };
    const uninstall = (): void => {
      if (!installed) return;
      transformer.layerRunner = previousRunner;
      if (pooler) {
        const base = pooler.base;
        transformer.replaceModule('pooler', () => base);
      }
      installed = false;
    };
    install();
    const claims: SlotClaim[] = [{ kind: 'slot', path: `${stackPath}.layerRunner` }, ...(pooler ? [{ kind: 'wrap' as const, path: 'pooler' }] : []), ...(selection?.claims ?? [])];
    const noOp = (): void => undefined;
    return {
      name: 'token-sft',
      claims,
      parameters: () => selection?.parameters() ?? [],
      merge: selection?.merge ?? noOp,
      unmerge: selection?.unmerge ?? noOp,
      setEnabled(enabled) {
        if (enabled) install();
        else uninstall();
        selection?.setEnabled?.(enabled);
      },
      state: () => selection?.state() ?? {},
      load(state) {
        if (selection) selection.load(state);
        else if (Object.keys(state).length > 0) {
          throw new PeftError('checkpoint-mismatch', "token-sft with trainParameters 'none' has no tensors to load.", { field: 'state', value: Object.keys(state), allowed: [] });
        }
      },
      remove() {
        uninstall();
        selection?.remove?.();
      },
    };
  },
});

/** `peft(model, [tokenSft({ k: 16 })])` */
export const tokenSft = tokenSftMethod;

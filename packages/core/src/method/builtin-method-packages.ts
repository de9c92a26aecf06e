/**
 * Which first-party package provides each built-in method name, so an "unknown method" error can
 * say what to install and import. Third-party names (`acme/vera`) are not listed here; their
 * package is named by the saved manifest instead.
 */
export const BUILTIN_METHOD_PACKAGES: Readonly<Record<string, string>> = {
  ...familyOf('@peftjs/lora', ['lora', 'dora', 'adalora', 'glora', 'krona', 'krona-res', 'intrinsic-said', 'qlora', 'quantized-base', 'galore', 'lora-fa', 'vera']),
  ...familyOf('@peftjs/adapters', [
    'houlsby',
    'pfeiffer',
    'parallel-adapter',
    'scaled-parallel-adapter',
    'compacter',
    'ia3',
    'lst',
    'ladder-side-tuning',
    'adamix',
  ]),
  ...familyOf('@peftjs/selective', ['bitfit', 'bitfit-plus', 'ln-tuning', 'layernorm-tuning', 'layer-selection', 'type-selection', 'far', 'difffit', 'token-sft', 'selective-fine-tuning']),
  ...familyOf('@peftjs/sparse-mask', ['random-mask', 'mixout', 'magnitude-mask', 'diff-pruning', 'child-tuning', 'fish-mask', 'sam', 'lt-sft']),
  ...familyOf('@peftjs/prompts', ['prompt-tuning', 'prefix-tuning', 'p-tuning', 'spot', 'ipt', 'adaptive-prefix-tuning']),
  ...familyOf('@peftjs/bench', ['mam', 'unipelt', 's4']),
};

function familyOf(packageName: string, names: readonly string[]): Record<string, string> {
  return Object.fromEntries(names.map((name) => [name, packageName]));
}

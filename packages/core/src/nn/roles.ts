/**
 * Roles name what a module or parameter *is*, independent of the model family, so methods
 * select by role (`attention.query`) and never by one model's attribute names.
 */
export const MODULE_ROLES = [
  'attention.query',
  'attention.key',
  'attention.value',
  'attention.output',
  'attention.qkv',
  'ffn.up',
  'ffn.down',
  'ffn.gate',
  'norm.attention',
  'norm.ffn',
  'norm.final',
  'norm.embedding',
  'embedding.token',
  'embedding.position',
  'embedding.type',
  'head',
  'pooler',
  'attention',
  'ffn',
  'block',
  'embeddings',
  'model',
] as const;

/** Built-in module roles; third-party modules may use their own namespaced strings. */
export type BuiltinModuleRole = (typeof MODULE_ROLES)[number];
export type ModuleRole = BuiltinModuleRole | (string & {});

/** What kind of tensor a parameter is inside its module. */
export const TENSOR_KINDS = ['weight', 'bias', 'gamma', 'beta'] as const;
export type BuiltinTensorKind = (typeof TENSOR_KINDS)[number];
export type TensorKind = BuiltinTensorKind | (string & {});

/** Role groups usable in selectors. */
export const ROLE_GROUPS: Readonly<Record<string, readonly BuiltinModuleRole[]>> = {
  'all-linear': [
    'attention.query',
    'attention.key',
    'attention.value',
    'attention.output',
    'attention.qkv',
    'ffn.up',
    'ffn.down',
    'ffn.gate',
  ],
  'attention.*': ['attention.query', 'attention.key', 'attention.value', 'attention.output', 'attention.qkv'],
  'ffn.*': ['ffn.up', 'ffn.down', 'ffn.gate'],
  'norm.*': ['norm.attention', 'norm.ffn', 'norm.final', 'norm.embedding'],
  'embedding.*': ['embedding.token', 'embedding.position', 'embedding.type'],
};

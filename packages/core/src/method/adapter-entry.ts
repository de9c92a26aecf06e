import type { AnyPeftMethod } from './erased-types';
import type { AppliedMethod } from './types';

/** The adapter name used when none is given (HF PEFT's `adapter_name`). */
export const DEFAULT_ADAPTER_NAME = 'default';

/** A method applied as part of an adapter: its config and what `apply` returned. */
export interface AdapterMethodEntry {
  readonly method: AnyPeftMethod;
  readonly config: unknown;
  readonly applied: AppliedMethod;
  readonly adapterName: string;
  /** Position in its adapter (application order). */
  readonly index: number;
}

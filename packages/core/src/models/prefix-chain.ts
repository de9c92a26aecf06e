import { invalidArgument } from '../errors/peft-error';
import { tf } from '../nn/tf';
import { SlotChain, concatRows } from './slot-chain';
import type { PrefixKeyValue, PrefixProvider, PrefixRequest } from './slots';

/**
 * The attention `prefix` slot: the prefix providers of every method and adapter, in order. Their
 * key/value rows are concatenated along the prefix axis as [batch, heads, P, headDim]. A gated
 * provider (UniPELT, Mao et al. §3.2) has its keys scaled by the gate's first output and its values
 * by the second, each averaged over the layer input's positions, as AdapterHub's gated prefix does.
 */
export class PrefixChain extends SlotChain<PrefixProvider, [request: PrefixRequest], PrefixKeyValue> {
  readonly numHeads: number;
  readonly headDim: number;

  constructor(numHeads: number, headDim: number) {
    super();
    this.numHeads = numHeads;
    this.headDim = headDim;
  }

  forward(request: PrefixRequest): PrefixKeyValue {
    return tf.tidy(() => {
      const keys: tf.Tensor[] = [];
      const values: tf.Tensor[] = [];
      for (const link of this.activeLinks()) {
        const rows = link.provider.forward(request);
        let key = this.asHeads(rows.key, request.batchSize, 'key');
        let value = this.asHeads(rows.value, request.batchSize, 'value');
        if (link.gate) {
          const gate = link.gate.forward(request.hidden);
          const keyScale = gate.slice([0, 0], [-1, 1]).reshape([-1, 1, 1, 1]);
          const valueScale = gate.slice([0, gate.shape[1]! - 1], [-1, 1]).reshape([-1, 1, 1, 1]);
          key = tf.mul(key, keyScale);
          value = tf.mul(value, valueScale);
        }
        keys.push(key);
        values.push(value);
      }
      if (keys.length === 0) {
        const empty = tf.zeros([request.batchSize, this.numHeads, 0, this.headDim]);
        return { key: empty, value: empty.clone() };
      }
      return { key: concatRows(keys, 2), value: concatRows(values, 2) };
    });
  }

  /** Rows as [batch, heads, P, headDim], from that layout or [batch, P, hidden]. */
  private asHeads(rows: tf.Tensor, batch: number, field: 'key' | 'value'): tf.Tensor {
    if (rows.rank === 4 && rows.shape[0] === batch && rows.shape[1] === this.numHeads && rows.shape[3] === this.headDim) return rows;
    if (rows.rank === 3 && rows.shape[0] === batch && rows.shape[2] === this.numHeads * this.headDim) {
      return rows.reshape([batch, rows.shape[1]!, this.numHeads, this.headDim]).transpose([0, 2, 1, 3]);
    }
    return invalidArgument(`prefix.${field}.shape`, rows.shape, `[${batch}, ${this.numHeads}, P, ${this.headDim}] or [${batch}, P, ${this.numHeads * this.headDim}]`);
  }
}

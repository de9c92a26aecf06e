import { Parameter, activation, globalSeeds, linearForward, tf, type WrapperAdapter } from '@peftjs/core';
import { SublayerAdapterBase, type SublayerAdapterOptions } from '../shared/sublayer-adapter';

/** The A_i of both projections: [n, n, n] each; shared across layers by Compacter. */
export interface PhmRules {
  down: Parameter;
  up: Parameter;
}

export interface CompacterOptions extends SublayerAdapterOptions {
  /** n, the number of Kronecker summands. */
  phmDimension: number;
  /** Rank of B_i = s_i·t_iᵀ; undefined for full B_i (the PHM-Adapter). */
  phmRank: number | undefined;
  /** The shared rules, or undefined when this adapter has its own. */
  sharedRules: PhmRules | undefined;
  /** This adapter registers the shared rules (the first site), so they are saved and trained once. */
  ownsSharedRules: boolean;
}

/** New A_i [n, n, n] ~ N(0, 1/n), so Σ A_i ⊗ B_i has the variance of B. */
export function createPhmRule(n: number, kind: string): Parameter {
  return new Parameter(tf.randomNormal([n, n, n], 0, 1 / Math.sqrt(n), 'float32', globalSeeds().nextSeed()), { kind });
}

/**
 * W = Σ_i A_i ⊗ B_i (Karimi Mahabadi et al. §3, Eq. 3) for stacked A [n, n, n] and B [n, p, q]:
 * W[a·p + b, c·q + e] = Σ_i A_i[a, c]·B_i[b, e], a [n·p, n·q] matrix.
 */
export function kroneckerSum(rules: tf.Tensor, factors: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [n, p, q] = factors.shape as [number, number, number];
    const products = tf.mul(tf.reshape(rules, [n, n, 1, n, 1]), tf.reshape(factors, [n, 1, p, 1, q]));
    return tf.reshape(tf.sum(products, 0), [n * p, n * q]);
  });
}

/**
 * A Compacter / PHM adapter around a sublayer: A(h) = f(h·W_down + b_down)·W_up + b_up with
 * W_down, W_up PHM matrices. The up projection's right factors start at zero, so A(h) = 0 at init.
 */
export class CompacterAdapter extends SublayerAdapterBase<CompacterOptions> {
  protected createParameters(_adapterName: string, options: CompacterOptions): Record<string, Parameter> {
    const n = options.phmDimension;
    const [d, m] = [this.hiddenSize / n, options.width / n];
    const seeds = globalSeeds();
    const parameters: Record<string, Parameter> = {
      downBias: new Parameter(tf.zeros([options.width]), { kind: 'adapter_down_bias' }),
      upBias: new Parameter(tf.zeros([this.hiddenSize]), { kind: 'adapter_up_bias' }),
    };
    if (!options.sharedRules) {
      parameters.phmRuleDown = createPhmRule(n, 'phm_rule');
      parameters.phmRuleUp = createPhmRule(n, 'phm_rule');
    } else if (options.ownsSharedRules) {
      parameters.phmRuleDown = options.sharedRules.down;
      parameters.phmRuleUp = options.sharedRules.up;
    }
    if (options.phmRank === undefined) {
      parameters.downFactor = new Parameter(tf.randomUniform([n, d, m], -1 / Math.sqrt(this.hiddenSize), 1 / Math.sqrt(this.hiddenSize), 'float32', seeds.nextSeed()), { kind: 'phm_factor' });
      parameters.upFactor = new Parameter(tf.zeros([n, m, d]), { kind: 'phm_factor' });
      return parameters;
    }
    const r = options.phmRank;
    // Var(s·tᵀ) = r·σ⁴ = 1/(3·hidden), the variance of the plain adapter's Kaiming-uniform W_down.
    const sigma = (1 / (3 * this.hiddenSize * r)) ** 0.25;
    parameters.downLeft = new Parameter(tf.randomNormal([n, d, r], 0, sigma, 'float32', seeds.nextSeed()), { kind: 'phm_left' });
    parameters.downRight = new Parameter(tf.randomNormal([n, r, m], 0, sigma, 'float32', seeds.nextSeed()), { kind: 'phm_right' });
    parameters.upLeft = new Parameter(tf.randomNormal([n, m, r], 0, sigma, 'float32', seeds.nextSeed()), { kind: 'phm_left' });
    parameters.upRight = new Parameter(tf.zeros([n, r, d]), { kind: 'phm_right' });
    return parameters;
  }

  /** W_down [hidden, width] and W_up [width, hidden] of an adapter. */
  projections(adapter: WrapperAdapter<CompacterOptions>): { down: tf.Tensor; up: tf.Tensor } {
    return tf.tidy(() => {
      const p = adapter.parameters;
      const rules = adapter.options.sharedRules ?? { down: p.get('phmRuleDown'), up: p.get('phmRuleUp') };
      const factor = (name: 'down' | 'up') =>
        adapter.options.phmRank === undefined ? p.get(`${name}Factor`).value : tf.matMul(p.get(`${name}Left`).value as tf.Tensor3D, p.get(`${name}Right`).value as tf.Tensor3D);
      return { down: kroneckerSum(rules.down.value, factor('down')), up: kroneckerSum(rules.up.value, factor('up')) };
    });
  }

  protected adapterOutput(adapter: WrapperAdapter<CompacterOptions>, input: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const { down, up } = this.projections(adapter);
      const p = adapter.parameters;
      return linearForward(activation(adapter.options.activation)(linearForward(input, down, p.get('downBias').value)), up, p.get('upBias').value);
    });
  }
}

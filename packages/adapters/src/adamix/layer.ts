import { Parameter, SeedStream, activation, globalSeeds, linearForward, tf, type WrapperAdapter } from '@peftjs/core';
import { SublayerAdapterBase, type SublayerAdapterOptions } from '../shared/sublayer-adapter';

export interface AdamixOptions extends SublayerAdapterOptions {
  experts: number;
  /** Seed of this site's routing stream. */
  routingSeed: number;
  /** Compute the consistency term in training forwards. */
  consistency: boolean;
}

/** The expert indices of one route: a down and an up projection. */
export interface Route {
  down: number;
  up: number;
}

/**
 * An AdaMix adapter after a sublayer (Wang et al. 2022, §2.1–2.3): experts E_down [M, d, m] and
 * E_up [M, m, d] (with biases).
 * - training: stochastic routing, one random down and one random up expert per forward (§2.2);
 *   with consistency on, a second independent route is run too and ‖A_r1(h) − A_r2(h)‖² (mean) is
 *   kept for the method's regularizer (§2.2 uses a symmetric KL between the two passes' model
 *   outputs; this layer-local form needs no second model pass);
 * - inference: adaptation merging, the experts' weights averaged into one adapter (§2.3).
 * Up experts start at zero, so the adapter adds nothing at init.
 */
export class AdamixAdapter extends SublayerAdapterBase<AdamixOptions> {
  private readonly routes = new Map<string, SeedStream>();
  private readonly consistencyTerms = new Map<string, tf.Scalar>();

  protected createParameters(adapterName: string, options: AdamixOptions): Record<string, Parameter> {
    const [d, m, experts] = [this.hiddenSize, options.width, options.experts];
    const bound = 1 / Math.sqrt(d);
    this.routes.set(adapterName, new SeedStream(options.routingSeed));
    return {
      expertsDown: new Parameter(tf.randomUniform([experts, d, m], -bound, bound, 'float32', globalSeeds().nextSeed()), { kind: 'adapter_down' }),
      expertsDownBias: new Parameter(tf.zeros([experts, m]), { kind: 'adapter_down_bias' }),
      expertsUp: new Parameter(tf.zeros([experts, m, d]), { kind: 'adapter_up' }),
      expertsUpBias: new Parameter(tf.zeros([experts, d]), { kind: 'adapter_up_bias' }),
    };
  }

  /** The next random route of an adapter. */
  nextRoute(adapterName: string): Route {
    const stream = this.routes.get(adapterName)!;
    const experts = this.adapter(adapterName).options.experts;
    return { down: stream.nextInt(experts), up: stream.nextInt(experts) };
  }

  /** A(h) through one route. */
  routed(adapter: WrapperAdapter<AdamixOptions>, input: tf.Tensor, route: Route): tf.Tensor {
    return tf.tidy(() => {
      const p = adapter.parameters;
      const pick = (name: string, index: number) => tf.squeeze(tf.slice(p.get(name).value, [index], [1]), [0]);
      const hidden = activation(adapter.options.activation)(linearForward(input, pick('expertsDown', route.down), pick('expertsDownBias', route.down)));
      return linearForward(hidden, pick('expertsUp', route.up), pick('expertsUpBias', route.up));
    });
  }

  /** A(h) with every expert's weights averaged (adaptation merging). */
  averaged(adapter: WrapperAdapter<AdamixOptions>, input: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const p = adapter.parameters;
      const mean = (name: string) => tf.mean(p.get(name).value, 0);
      return linearForward(activation(adapter.options.activation)(linearForward(input, mean('expertsDown'), mean('expertsDownBias'))), mean('expertsUp'), mean('expertsUpBias'));
    });
  }

  protected adapterOutput(adapter: WrapperAdapter<AdamixOptions>, input: tf.Tensor): tf.Tensor {
    if (!this.training) return this.averaged(adapter, input);
    const output = this.routed(adapter, input, this.nextRoute(adapter.name));
    if (adapter.options.consistency && adapter.options.experts > 1) {
      const other = this.routed(adapter, input, this.nextRoute(adapter.name));
      // Kept past this forward's tidy, for the regularizer read in the same loss closure; replaced at the next training forward.
      this.setConsistencyTerm(adapter.name, tf.keep(tf.mean(tf.squaredDifference(output, other))) as tf.Scalar);
    }
    return output;
  }

  private setConsistencyTerm(adapterName: string, term: tf.Scalar | undefined): void {
    this.consistencyTerms.get(adapterName)?.dispose();
    if (term) this.consistencyTerms.set(adapterName, term);
    else this.consistencyTerms.delete(adapterName);
  }

  /** The consistency term of the last training forward (undefined before one). */
  consistencyTerm(adapterName: string): tf.Scalar | undefined {
    return this.consistencyTerms.get(adapterName);
  }

  /** Frees the kept term (after the optimizer step). */
  clearConsistency(adapterName: string): void {
    this.setConsistencyTerm(adapterName, undefined);
  }

  override deleteAdapter(name: string): void {
    this.clearConsistency(name);
    this.routes.delete(name);
    super.deleteAdapter(name);
  }
}

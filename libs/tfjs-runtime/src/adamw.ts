// AdamW (Loshchilov & Hutter 2019) as PyTorch 1.13 computes it, one kernel per variable and step
// (./kernels/optimizer.ts; native on wasm), and the global gradient norm as one kernel. tfjs's own
// Adam composes ~10 element-wise kernels per variable and has no decoupled weight decay (the
// trainer added two more per weight for it); on a detector's ~150-400 variables that was a tenth
// of a training step. The gradient scale of global-norm clipping is folded into the same pass.
import * as tf from '@tensorflow/tfjs-core';
import { ADAMW_STEP, SQUARED_NORM, registerOptimizerKernels, type AdamWStepAttrs } from './kernels/optimizer.js';

export interface AdamWConfig {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Decoupled weight decay, applied as p *= 1 - lr * weightDecay before the Adam update. */
  weightDecay?: number;
  /** Which variables decay (default: all, as PyTorch's AdamW without parameter groups). */
  decays?: (variable: tf.Variable) => boolean;
}

/** tfjs-core's NamedTensor (not exported at its top level). */
interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

interface Moments {
  m: tf.Tensor;
  v: tf.Tensor;
}

export class AdamW extends tf.Optimizer {
  static get className(): string {
    return 'SmNasAdamW';
  }

  /** Read at every step: a schedule sets it between steps. */
  learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  private readonly decays: (variable: tf.Variable) => boolean;
  private readonly moments = new Map<string, Moments>();

  constructor(config: AdamWConfig) {
    super();
    this.learningRate = config.learningRate;
    this.beta1 = config.beta1 ?? 0.9;
    this.beta2 = config.beta2 ?? 0.999;
    this.epsilon = config.epsilon ?? 1e-8;
    this.weightDecay = config.weightDecay ?? 0;
    this.decays = config.decays ?? (() => true);
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    this.applyScaledGradients(variableGradients, 1);
  }

  /**
   * One step with every gradient multiplied by `gradScale` (global-norm clipping) in the same pass.
   * A scalar tensor scale stays on the device where the backend's kernel takes it (webgpu), so the
   * step does not wait for the gradient norm to be read back; elsewhere it is read once here.
   */
  applyScaledGradients(variableGradients: tf.NamedTensorMap | NamedTensor[], gradScale: number | tf.Scalar): void {
    const backend = tf.getBackend();
    registerOptimizerKernels(backend);
    const list = Array.isArray(variableGradients)
      ? variableGradients
      : Object.entries(variableGradients).map(([name, tensor]) => ({ name, tensor }));
    const onDevice = gradScale instanceof tf.Tensor && backend === 'webgpu';
    const scaleTensor: tf.NamedTensorMap = onDevice ? { scale: gradScale } : {};
    const scale = typeof gradScale === 'number' ? gradScale : onDevice ? 1 : gradScale.dataSync()[0]!;
    this.incrementIterations();
    const t = this.iterations;
    const base = { lr: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, gradScale: scale, bc1: 1 - this.beta1 ** t, bc2: 1 - this.beta2 ** t };
    for (const { name, tensor: grad } of list) {
      if (grad == null) continue;
      const variable = tf.engine().registeredVariables[name];
      if (!variable) throw new Error(`AdamW: no variable named ${name}`);
      const state = this.momentsOf(name, variable);
      const attrs: AdamWStepAttrs = { ...base, weightDecay: this.decays(variable) ? this.weightDecay : 0 };
      const [p, m, v] = tf.engine().runKernel(ADAMW_STEP, { param: variable, m: state.m, v: state.v, grad, ...scaleTensor }, attrs as never) as tf.Tensor[];
      variable.assign(p!);
      p!.dispose();
      state.m.dispose();
      state.v.dispose();
      // Kept: a caller's tidy must not free the optimiser's state.
      state.m = tf.keep(m!);
      state.v = tf.keep(v!);
    }
  }

  private momentsOf(name: string, variable: tf.Variable): Moments {
    let state = this.moments.get(name);
    if (!state) {
      state = { m: tf.keep(tf.zerosLike(variable)), v: tf.keep(tf.zerosLike(variable)) };
      this.moments.set(name, state);
    }
    return state;
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const out = [await this.saveIterations()];
    for (const [name, s] of this.moments) out.push({ name: `${name}/m`, tensor: s.m }, { name: `${name}/v`, tensor: s.v });
    return out;
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    this.disposeMoments();
    const byName = new Map(rest.map((w) => [w.name, w.tensor]));
    for (const [key, tensor] of byName) {
      if (!key.endsWith('/m')) continue;
      const name = key.slice(0, -2);
      const v = byName.get(`${name}/v`);
      if (!v) throw new Error(`AdamW.setWeights: ${name}/m without ${name}/v`);
      this.moments.set(name, { m: tf.keep(tensor.clone()), v: tf.keep(v.clone()) });
    }
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, weightDecay: this.weightDecay };
  }

  override dispose(): void {
    this.disposeMoments();
    super.dispose();
  }

  private disposeMoments(): void {
    for (const s of this.moments.values()) {
      s.m.dispose();
      s.v.dispose();
    }
    this.moments.clear();
  }
}

/** The sum of the squares of every element of `tensors`, as one kernel (a scalar tensor). */
export function squaredNorm(tensors: readonly tf.Tensor[]): tf.Scalar {
  registerOptimizerKernels(tf.getBackend());
  if (tensors.length === 0) return tf.scalar(0);
  return tf.engine().runKernel(SQUARED_NORM, Object.fromEntries(tensors.map((t, i) => [String(i), t])), {}) as tf.Scalar;
}

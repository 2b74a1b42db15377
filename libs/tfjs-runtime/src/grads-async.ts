// tf.variableGrads for a loss that must await between kernels: a two-stage detector reads its
// proposals (and a cascade its refined boxes) back to the host in the middle of the forward pass,
// and a GPU backend has no synchronous read. tfjs's gradients() runs its function synchronously;
// here the tape and a tidy-like scope are opened by hand around the awaited forward pass, and
// gradients() is then asked for the gradient of the value already computed: with the tape depth
// above zero it keeps the tape recorded so far instead of starting a new one.
//
// The engine's tape and scope are process-wide: a tensor that other code makes while the forward
// pass awaits would be recorded and, unless kept, freed with the pass. Calls are therefore queued
// one after another, and nothing else in a process that trains should run tfjs ops concurrently
// with a step (the trainer runs one job at a time).
import * as tf from '@tensorflow/tfjs-core';

/** The engine internals used here (tfjs-core 4.22's Engine). */
interface EngineInternals {
  startTape(): void;
  endTape(): void;
  startScope(name?: string): void;
  endScope(result?: tf.TensorContainer): void;
  state: { gradientDepth: number; activeTape: { saved?: tf.Tensor[] }[] | null };
}

let queue: Promise<unknown> = Promise.resolve();

/**
 * The value of `f` (a scalar) and its gradients with respect to `varList`, by name, as
 * tf.variableGrads; `f` may await (e.g. `tensor.data()`) between its ops.
 */
export function variableGradsAsync(f: () => Promise<tf.Scalar>, varList: tf.Variable[]): Promise<{ value: tf.Scalar; grads: tf.NamedTensorMap }> {
  const run = queue.then(() => record(f, varList));
  queue = run.catch(() => undefined);
  return run;
}

async function record(f: () => Promise<tf.Scalar>, varList: tf.Variable[]): Promise<{ value: tf.Scalar; grads: tf.NamedTensorMap }> {
  const engine = tf.engine() as unknown as EngineInternals;
  engine.startScope('variableGradsAsync');
  engine.startTape();
  let result: { value: tf.Scalar; grads: tf.NamedTensorMap } | undefined;
  try {
    const y = await f();
    // Depth is 1 here, so gradients() opens depth 2 and keeps the tape recorded above.
    result = tf.variableGrads(() => y, varList);
    return result;
  } finally {
    engine.endTape();
    if (engine.state.gradientDepth === 0 && engine.state.activeTape) {
      // What gradients() does at depth 0: free the tensors the tape saved for the backward pass.
      for (const node of engine.state.activeTape) for (const t of node.saved ?? []) t.dispose();
      engine.state.activeTape = null;
    }
    engine.endScope(result as tf.TensorContainer | undefined);
  }
}

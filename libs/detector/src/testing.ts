// Test helpers (not exported from the package): the backend, tiny architectures, a fixed batch.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendInfo } from '@sm-nas/tfjs-runtime';
import { standardBackbone, type Architecture, type BackboneKind, type FpnExtraSource, type HeadKind, type Neck, type RpnKind } from '@sm-nas/arch';

/** wasm (threads) via libs/tfjs-runtime, cpu when wasm cannot start. */
export async function testBackend(): Promise<BackendInfo> {
  try {
    return await initBackend({ backend: 'wasm', log: null });
  } catch {
    return await initBackend({ backend: 'cpu', log: null });
  }
}

export function twoStageArch(kind: BackboneKind, neck: Neck, rpn: RpnKind, head: HeadKind, stages: number, size = 64): Architecture {
  return { ...retinaArch(kind, neck, size), rpn, head: { kind: head, stages, channels: 256 } };
}

export function retinaArch(kind: BackboneKind, neck: Neck, size = 64): Architecture {
  return {
    backbone: standardBackbone(kind),
    neck,
    rpn: 'none',
    head: { kind: 'retinanet', stages: 0, channels: 256 },
    input: { widthPx: size, heightPx: size },
  };
}

export const fpn = (startLevel: number, endLevel: number, extraSource: FpnExtraSource = 'c5'): Neck => ({ kind: 'fpn', startLevel, endLevel, channels: 256, extraSource });

/** Two images of noise with boxes of a few sizes (input pixels). */
export function fixedBatch(size: number, n = 2): { images: tf.Tensor4D; boxes: Float32Array[]; labels: Int32Array[] } {
  const images = tf.randomNormal([n, size, size, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  const s = size / 64;
  const boxes = Array.from({ length: n }, (_, i) => Float32Array.from([4 * s + i, 6 * s, 30 * s, 34 * s, 20 * s, 16 * s, 60 * s, 62 * s, 40 * s, 4 * s, 52 * s, 14 * s].map(Math.round)));
  const labels = Array.from({ length: n }, (_, i) => Int32Array.from([i % 3, 2, 1]));
  return { images, boxes, labels };
}

/** Host reads counted at the backend (countReads). */
export interface Reads {
  /** `read` calls, each named by the first source file of this repository on its stack. */
  read: string[];
  /** `readSync` calls outside kernels and outside `read`, likewise. */
  readSync: string[];
  /** `readSync` calls inside kernels, by kernel name. */
  inKernels: Map<string, number>;
}

/** The repository file (libs/..., services/...) that made the call, past the tests and these helpers. */
function caller(): string {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 100;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  for (const m of stack.matchAll(/\/((?:libs|services|bench)\/[^\s:()]+\.ts)/g)) {
    if (!m[1]!.endsWith('.test.ts') && !m[1]!.endsWith('/testing.ts')) return m[1]!;
  }
  return 'unknown';
}

/** The reads of the countReads call in progress. */
let counting: Reads | undefined;

/** How many reads had been made when the optimiser's update began (-1: no update). */
export function readsAtUpdate(opt: tf.Optimizer): () => number {
  let at = -1;
  const o = opt as unknown as Record<'applyGradients' | 'applyScaledGradients', ((...args: unknown[]) => unknown) | undefined>;
  // AdamW's applyGradients goes through applyScaledGradients: the first call is the update's start.
  for (const name of ['applyGradients', 'applyScaledGradients'] as const) {
    const method = o[name];
    if (!method) continue;
    o[name] = (...args: unknown[]) => {
      if (at < 0) at = counting?.read.length ?? -1;
      return method.apply(opt, args);
    };
  }
  return () => at;
}

/**
 * Runs `f` with the backend's reads counted: `tensor.data()` reaches `backend.read`, `dataSync()`
 * `backend.readSync`. Kernels on the cpu and wasm backends call readSync themselves to reach their
 * inputs' memory; those are counted apart, by kernel.
 */
export async function countReads<T>(f: () => Promise<T>): Promise<{ result: T; reads: Reads }> {
  type Read = (dataId: object, ...rest: unknown[]) => unknown;
  const backend = tf.backend() as unknown as { read: Read; readSync: Read };
  const engine = tf.engine() as unknown as { runKernelFunc: (params: { kernelName?: string }) => unknown };
  const reads: Reads = { read: [], readSync: [], inKernels: new Map() };
  const kernels: string[] = [];
  let inRead = false;
  const { read, readSync } = backend;
  const { runKernelFunc } = engine;
  backend.read = function (this: unknown, ...args) {
    reads.read.push(caller());
    // wasm's read is readSync behind a promise: that inner call is this read.
    inRead = true;
    try {
      return read.apply(this, args);
    } finally {
      inRead = false;
    }
  };
  backend.readSync = function (this: unknown, ...args) {
    if (!inRead) {
      const k = kernels.at(-1);
      if (k) reads.inKernels.set(k, (reads.inKernels.get(k) ?? 0) + 1);
      else reads.readSync.push(caller());
    }
    return readSync.apply(this, args);
  };
  engine.runKernelFunc = function (this: unknown, params) {
    kernels.push(params.kernelName ?? 'customGrad');
    try {
      return runKernelFunc.call(this, params);
    } finally {
      kernels.pop();
    }
  };
  counting = reads;
  try {
    return { result: await f(), reads };
  } finally {
    counting = undefined;
    // Own properties over the prototype's methods: deleting them restores the originals.
    delete (backend as Partial<typeof backend>).read;
    delete (backend as Partial<typeof backend>).readSync;
    delete (engine as Partial<typeof engine>).runKernelFunc;
  }
}

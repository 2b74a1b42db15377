// What gets timed: the real network at its real input size, built by libs/detector (random weights,
// inference norms folded into the convolutions), run on a random batch and read back so the device
// has finished. Detectors run `predict` (network + decoding + NMS); the classification form (the
// backbone with its classifier, as torchvision's models) runs the graph to its logits.
//
// Per-module times come from cumulative prefixes of the same layer graph: the backbone alone, then
// backbone + neck, then + RPN, each instantiated by the same executor; a module's time is the
// difference of consecutive prefixes, the head's is the whole network minus the last dense prefix,
// and post-processing is `predict` minus the network. This needs no hooks inside the executor and
// works for any head libs/detector builds (two-stage heads run per RoI, so their time, RoI decoding
// included, is `predict` minus the dense prefix).
import type { Architecture } from '@sm-nas/arch';
import { buildGraph, type LayerGraph, type LayerNode } from '@sm-nas/arch/graph';
import { createDetector, disposeOutputs, GraphExecutor, type GraphOutputs } from '@sm-nas/detector';
import { kernelMs, tf } from '@sm-nas/tfjs-runtime';

export type ModelForm = 'detection' | 'classification';

/** COCO's 80 classes for detectors, ImageNet's 1000 for the classification form. */
export const DETECTION_CLASSES = 80;
export const CLASSIFICATION_CLASSES = 1000;

export interface TimedModel {
  form: ModelForm;
  /** One synchronised inference on the batch. */
  run(): Promise<void>;
  /** Cumulative prefixes, in order, each ending at the named module; the last is the whole network. */
  prefixes: Prefix[];
  /** Whether `run` does more than the last prefix (post-processing, per-RoI heads). */
  hasPostprocess: boolean;
  /** Name for run() minus the last prefix: `postprocess`, or `head` when per-RoI heads are in it. */
  tailModule: string;
  dispose(): void;
}

export interface Prefix {
  module: string;
  /** The prefix's kernels, issued and not waited for; `syncOutputs` waits for them. */
  forward(): GraphOutputs;
  dispose(): void;
}

/** The module group a layer belongs to in the reported breakdown. */
export function moduleGroup(node: Pick<LayerNode, 'module'>): string {
  if (node.module === 'backbone.classifier') return 'classifier';
  if (node.module.startsWith('backbone')) return 'backbone';
  if (node.module.startsWith('head')) return 'head';
  return node.module;
}

/**
 * Reads every output back, then frees them: the device has then finished the pass (a GPU backend
 * has no synchronous read, so this resolves rather than blocks).
 */
async function syncOutputs(outputs: GraphOutputs): Promise<void> {
  try {
    await Promise.all([...outputs.values()].flatMap((m) => [...m.values()].map((t) => t.data())));
  } finally {
    disposeOutputs(outputs);
  }
}

/**
 * The graph's nodes up to and including the last node of `groups`, with every value the rest of
 * the graph would read as an output (so nothing the prefix computes is dead code).
 */
export function prefixGraph(graph: LayerGraph, lastNode: number): LayerGraph {
  const nodes = graph.nodes.slice(0, lastNode + 1);
  const outputs = graph.outputs.filter((o) => o.node <= lastNode);
  const exported = new Set(outputs.map((o) => o.node));
  for (const n of graph.nodes.slice(lastNode + 1)) {
    for (const i of n.inputs) {
      if (i <= lastNode && !exported.has(i)) {
        exported.add(i);
        outputs.push({ role: 'features', index: 1000 + i, node: i });
      }
    }
  }
  return { ...graph, nodes, outputs };
}

function prefixesOf(graph: LayerGraph, images: tf.Tensor4D, stopBeforePerRoi: boolean): Prefix[] {
  const order: string[] = [];
  const last = new Map<string, number>();
  for (const node of graph.nodes) {
    if (node.op === 'input') continue;
    if (stopBeforePerRoi && node.perRoi) break;
    const g = moduleGroup(node);
    if (!last.has(g)) order.push(g);
    last.set(g, node.id);
  }
  return order.map((module) => {
    const executor = new GraphExecutor(prefixGraph(graph, last.get(module)!), 0);
    return { module, forward: () => executor.forward(images), dispose: () => executor.dispose() };
  });
}

export interface BuildOptions {
  form: ModelForm;
  batch: number;
  numClasses?: number;
}

/**
 * Builds `arch` at `arch.input` for timing. Throws whatever libs/detector throws for a head it
 * cannot build yet (the caller maps it to UNIMPLEMENTED).
 */
export function buildTimedModel(arch: Architecture, options: BuildOptions): TimedModel {
  const { widthPx, heightPx } = arch.input;
  const images = tf.randomUniform([options.batch, heightPx, widthPx, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  if (options.form === 'classification') {
    const graph = buildGraph(arch, { form: 'classification', numClasses: options.numClasses ?? CLASSIFICATION_CLASSES, norm: 'batch_norm' });
    const executor = new GraphExecutor(graph, 0);
    const prefixes = prefixesOf(graph, images, false);
    // The last prefix is the whole graph: time it with the main executor.
    prefixes.at(-1)!.dispose();
    prefixes[prefixes.length - 1] = { module: prefixes.at(-1)!.module, forward: () => executor.forward(images), dispose: () => {} };
    return {
      form: 'classification',
      run: () => syncOutputs(executor.forward(images)),
      prefixes,
      hasPostprocess: false,
      tailModule: 'postprocess',
      dispose() {
        for (const p of prefixes) p.dispose();
        executor.dispose();
        images.dispose();
      },
    };
  }
  let detector: ReturnType<typeof createDetector>;
  try {
    detector = createDetector(arch, { numClasses: options.numClasses ?? DETECTION_CLASSES, norm: 'batch_norm', seed: 0 });
  } catch (err) {
    images.dispose();
    throw err;
  }
  const perRoi = detector.graph.nodes.some((n) => n.perRoi);
  const prefixes = prefixesOf(detector.graph, images, perRoi);
  if (!perRoi) {
    // Dense detectors: the whole network is the detector's own forward.
    prefixes.at(-1)!.dispose();
    prefixes[prefixes.length - 1] = { module: prefixes.at(-1)!.module, forward: () => detector.forward(images), dispose: () => {} };
  }
  return {
    form: 'detection',
    run: async () => {
      await detector.predict(images);
    },
    prefixes,
    hasPostprocess: true,
    tailModule: perRoi ? 'head' : 'postprocess',
    dispose() {
      for (const p of prefixes) p.dispose();
      detector.dispose();
      images.dispose();
    },
  };
}

export interface ModuleTime {
  name: string;
  ms: number;
  /** GPU kernel time from timestamp queries; 0 without them and for the tail. */
  gpuMs: number;
}

/** Each cumulative prefix's share: its time minus the longest before it, at least 0. */
function differences(prefixMs: readonly number[]): number[] {
  let before = 0;
  return prefixMs.map((ms) => {
    const share = Math.max(0, ms - before);
    before = Math.max(before, ms);
    return share;
  });
}

/**
 * Runs each prefix once. A prefix's first run costs far more than its later ones (on wasm, ten times
 * the network's steady iteration for a tiny detector: its weights are packed then); a profile pays
 * it first, inside its time limit, so the rest of the breakdown is steady passes it can plan for.
 */
export async function warmPrefixes(model: TimedModel): Promise<void> {
  for (const prefix of model.prefixes) await syncOutputs(prefix.forward());
}

/**
 * Mean GPU kernel time of each prefix (ms), from timestamp queries; undefined where the backend
 * has none. Like the wall times, a module's share is the difference of consecutive prefixes.
 */
async function prefixKernelMs(model: TimedModel, iterations: number, deadline: number): Promise<number[] | undefined> {
  const out: number[] = [];
  for (const prefix of model.prefixes) {
    let total = 0;
    let n = 0;
    while (n < iterations && (n === 0 || performance.now() < deadline)) {
      const ms = await kernelMs(() => disposeOutputs(prefix.forward()));
      if (ms === undefined) return undefined;
      total += ms;
      n++;
    }
    out.push(total / n);
  }
  return out;
}

/**
 * Passes over every prefix that `moduleTimes` makes whatever its deadline: one warm-up and one timed
 * run each, and one with timestamp queries where `kernelMs` answers (the same test as its own). A
 * profile keeps back this many network iteration times per prefix from its limit: once warm (see
 * `warmPrefixes`) a prefix, being part of the network, takes no longer than the whole.
 */
export function minBreakdownPasses(): number {
  const timestamps = tf.getBackend() === 'webgpu' && (tf.backend() as unknown as { supportTimestampQuery?: boolean }).supportTimestampQuery === true;
  return timestamps ? 3 : 2;
}

/**
 * Mean time per module (ms): each prefix timed `iterations` times after one warm-up run, modules as
 * differences of consecutive prefixes (clamped at 0: noise can make a tiny module negative), and
 * the tail (post-processing, or per-RoI heads) as `totalMeanMs` minus the network. On a GPU with
 * timestamp queries, each module's kernel time besides. Past `deadline` (performance.now() ms) a
 * prefix gets no more iterations than its first: the breakdown shares the profile's time limit.
 */
export async function moduleTimes(model: TimedModel, iterations: number, totalMeanMs: number, deadline = Infinity): Promise<ModuleTime[]> {
  const means: number[] = [];
  for (const prefix of model.prefixes) {
    await syncOutputs(prefix.forward());
    const times: number[] = [];
    for (let i = 0; i < iterations && (i === 0 || performance.now() < deadline); i++) {
      const t0 = performance.now();
      await syncOutputs(prefix.forward());
      times.push(performance.now() - t0);
      // Let timers and I/O (gRPC keep-alives, NATS pings) run between iterations.
      await new Promise((r) => setImmediate(r));
    }
    means.push(times.reduce((s, t) => s + t, 0) / times.length);
  }
  const before = Math.max(0, ...means);
  const gpu = await prefixKernelMs(model, iterations, deadline);
  const gpuShares = gpu ? differences(gpu) : [];
  const out: ModuleTime[] = differences(means).map((ms, i) => ({ name: model.prefixes[i]!.module, ms, gpuMs: gpuShares[i] ?? 0 }));
  if (model.hasPostprocess) {
    const tail = out.find((m) => m.name === model.tailModule);
    const extra = Math.max(0, totalMeanMs - before);
    if (tail) tail.ms += extra;
    else out.push({ name: model.tailModule, ms: extra, gpuMs: 0 });
  }
  return out;
}

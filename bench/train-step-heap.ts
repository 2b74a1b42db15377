// The wasm heap a training step needs, against libs/detector's estimate (trainStepMemory).
//
//   pnpm exec tsx bench/train-step-heap.ts ARCH [WIDTH=1] [NORM=group_norm] [BATCH=1] [STEPS=2]
//   e.g. 'resnet18:64:11-21-21-21/fpn:3-6:256/none/retinanet:256/512x512' 1 group_norm 4
//   BENCH_CLASSES (default 3, the built-in shapes set's), BENCH_MICRO_BATCH (trainStep's microBatch:
//   the batch as micro-batches of at most this many), BENCH_BY_KERNEL=1 also prints the live bytes
//   at the peak by the kernel that allocated them.
//
// One configuration a process: the heap only grows. Measured is the high-water mark of the heap in
// use: the largest end (offset + size) of any allocation the backend made (its `_malloc`, wrapped),
// i.e. the top of dlmalloc's heap, which the heap's size (Emscripten grows it by up to 20% more than
// asked) only bounds. The last step's is the steady state: AdamW's slots appear during the first.
// Prints one JSON line: the measurement, the estimate, and the estimate's features.
import { parseArchitecture } from '../libs/arch/src/index.js';
import { createDetector, trainStepBytes, trainStepMemory } from '../libs/detector/src/index.js';
import { AdamW, initBackend, tf } from '../libs/tfjs-runtime/src/index.js';

const [archText, widthText = '1', norm = 'group_norm', batchText = '1', stepsText = '2'] = process.argv.slice(2);
if (!archText) throw new Error('usage: bench/train-step-heap.ts ARCH [WIDTH] [NORM] [BATCH] [STEPS]');
const [width, batch, steps] = [Number(widthText), Number(batchText), Number(stepsText)];
const classes = Number(process.env['BENCH_CLASSES'] ?? 3);
const microBatch = process.env['BENCH_MICRO_BATCH'] ? Number(process.env['BENCH_MICRO_BATCH']) : undefined;
process.env['OMP_WAIT_POLICY'] ??= 'passive';
await initBackend({ backend: 'wasm', log: null });

interface WasmModule { HEAPU8: Uint8Array; _malloc(bytes: number): number; _free(ptr: number): void }
const wasm = (tf.backend() as unknown as { wasm: WasmModule }).wasm;
// Emscripten's glue replaces `_malloc` with the raw export on its first call: wrap after one.
wasm._free(wasm._malloc(16));
const [malloc, free] = [wasm._malloc.bind(wasm), wasm._free.bind(wasm)];
const sizes = new Map<number, number>();
const owners = new Map<number, string>();
const byKernel = new Map<string, number>();
let kernel = 'host';
let highWater = 0;
let live = 0;
let livePeak = 0;
let atPeak: [string, number][] = [];
wasm._malloc = (bytes: number) => {
  const at = malloc(bytes) >>> 0;
  if (at === 0) console.error(`malloc(${bytes}) returned 0 with the heap at ${wasm.HEAPU8.length} bytes`);
  highWater = Math.max(highWater, at + bytes);
  sizes.set(at, bytes);
  owners.set(at, kernel);
  byKernel.set(kernel, (byKernel.get(kernel) ?? 0) + bytes);
  live += bytes;
  if (live > livePeak) {
    livePeak = live;
    if (process.env['BENCH_BY_KERNEL']) atPeak = [...byKernel];
  }
  return at;
};
wasm._free = (ptr: number) => {
  const at = ptr >>> 0;
  const bytes = sizes.get(at) ?? 0;
  live -= bytes;
  const owner = owners.get(at);
  if (owner !== undefined) byKernel.set(owner, byKernel.get(owner)! - bytes);
  sizes.delete(at);
  owners.delete(at);
  free(ptr);
};
if (process.env['BENCH_BY_KERNEL']) {
  for (const k of tf.getKernelsForBackend('wasm')) {
    const f = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, 'wasm');
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        const outer = kernel;
        kernel = k.kernelName;
        try {
          return f(args);
        } finally {
          kernel = outer;
        }
      },
    });
  }
}

const detector = createDetector(parseArchitecture(archText), { numClasses: classes, norm: norm as 'group_norm', fidelity: { inputScale: 1, widthMultiplier: width }, seed: 0 });
const optimizer = new AdamW({ learningRate: 1e-4, epsilon: 1e-8, weightDecay: 1e-4, decays: (v) => v.shape.length > 1 });
const { widthPx: w, heightPx: h } = detector.inputSize;
const images = new Float32Array(batch * w * h * 3).map((_, i) => Math.sin(i));
const s = w / 64;
const boxes = Array.from({ length: batch }, (_, i) => Float32Array.from([4 * s + i, 6 * s, 30 * s, 34 * s, 20 * s, 16 * s, 60 * s, 62 * s].map(Math.round)));
const labels = Array.from({ length: batch }, (_, i) => Int32Array.from([i % classes, Math.min(2, classes - 1)]));
const rows: { step: number; seconds: number; highWaterBytes: number; heapBytes: number; loss: number; passes: number }[] = [];
for (let step = 0; step < steps; step++) {
  const t0 = performance.now();
  const loss = await detector.trainStep(optimizer, { images, shape: [batch, h, w, 3], boxes, labels }, { microBatch });
  rows.push({ step, seconds: (performance.now() - t0) / 1000, highWaterBytes: highWater, heapBytes: wasm.HEAPU8.length, loss: loss.total, passes: loss.passes });
}
const memory = trainStepMemory(detector);
const passImages = Math.min(batch, microBatch ?? batch);
const estimate = trainStepBytes(memory, passImages, passImages < batch);
console.log(JSON.stringify({
  arch: archText, width, norm, classes, batch, microBatch: passImages,
  highWaterBytes: highWater, livePeakBytes: livePeak, estimateBytes: estimate, error: estimate / highWater - 1,
  memory, activations: detector.executor.trainingActivations(), head: detector.head.trainingElements(), steps: rows,
}));
if (process.env['BENCH_BY_KERNEL']) {
  for (const [k, bytes] of atPeak.filter(([, b]) => b > 1e6).sort((a, b) => b[1] - a[1])) console.log(`${k.padEnd(40)} ${(bytes / 1e6).toFixed(0)} MB`);
}

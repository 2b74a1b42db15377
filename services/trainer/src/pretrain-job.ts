// The `pretrain` job: trains a backbone in its classification form (torchvision's: global average
// pool + linear) to classify the objects of the built-in dataset, cropped around their boxes, and
// writes the backbone as safetensors with torchvision's parameter names. It stands in for ImageNet
// weights here, offline, so the trainer's pretrained mode (frozen BatchNorm, weights loaded by
// torchvision name) runs end to end; a user with real ImageNet weights converts them once instead.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Rng, type Backbone } from '@sm-nas/arch';
import { buildGraph } from '@sm-nas/arch/graph';
import { generateShapes, labelMap, SHAPES_PRESETS, type DetectionDataset } from '@sm-nas/data';
import { GraphExecutor, scaleChannels, toTorchvisionName } from '@sm-nas/detector';
import { initBackend, tf, type InitBackendOptions } from '@sm-nas/tfjs-runtime';
import { writeSafetensors, type TensorMap } from './safetensors.js';

export interface PretrainJobSpec {
  jobId: string;
  /** As the detector will use it: the fidelity's width multiplier applies (see `widthMultiplier`). */
  backbone: Backbone;
  /** The detector's training width multiplier, so the weights fit the backbone it builds. */
  widthMultiplier: number;
  /** 0..2^32-1: the wire's uint64 seed folded (request.ts). */
  seed: number;
  trainImages: number;
  imageSizePx: number;
  /** Side of the square crops the classifier sees. */
  cropPx: number;
  batchSize: number;
  learningRate: number;
  maxSteps: number;
  maxSeconds: number;
  outputPath: string;
}

export interface PretrainProgressEvent {
  kind: 'progress';
  step: number;
  maxSteps: number;
  loss: number;
  imagesPerSecond: number;
  elapsedSeconds: number;
}

export interface PretrainResultEvent {
  kind: 'result';
  jobId: string;
  status: 'succeeded' | 'failed' | 'cancelled';
  failureReason: string;
  weightsPath: string;
  /** Top-1 accuracy on crops from a held-out split of the built-in data. */
  top1Accuracy: number;
  steps: number;
}

export type PretrainEvent = PretrainProgressEvent | PretrainResultEvent;

interface Crops {
  images: Float32Array;
  labels: Int32Array;
  count: number;
}

/** ImageNet statistics in 0..255 units, as libs/data normalises detector inputs. */
const MEAN = [123.675, 116.28, 103.53];
const STD = [58.395, 57.12, 57.375];

/** Every annotation's box, padded by 10 % and resized (bilinear) to crop x crop, normalised. */
export function cropObjects(dataset: DetectionDataset, crop: number): Crops {
  const labels = labelMap(dataset.coco);
  const anns = dataset.coco.annotations.filter((a) => !a.iscrowd && a.bbox[2] >= 2 && a.bbox[3] >= 2);
  const images = new Float32Array(anns.length * crop * crop * 3);
  const out = new Int32Array(anns.length);
  let cached: { id: number; image: ReturnType<DetectionDataset['readImage']> } | undefined;
  anns.forEach((ann, n) => {
    if (cached?.id !== ann.image_id) cached = { id: ann.image_id, image: dataset.readImage(ann.image_id) };
    const { width, height, data } = cached.image;
    const [x, y, w, h] = ann.bbox;
    const pad = 0.1 * Math.max(w, h);
    const side = Math.max(w, h) + 2 * pad;
    const x0 = x + w / 2 - side / 2;
    const y0 = y + h / 2 - side / 2;
    for (let j = 0; j < crop; j++) {
      for (let i = 0; i < crop; i++) {
        const sx = Math.min(Math.max(x0 + ((i + 0.5) * side) / crop - 0.5, 0), width - 1);
        const sy = Math.min(Math.max(y0 + ((j + 0.5) * side) / crop - 0.5, 0), height - 1);
        const ix = Math.floor(sx);
        const iy = Math.floor(sy);
        const fx = sx - ix;
        const fy = sy - iy;
        const ix1 = Math.min(ix + 1, width - 1);
        const iy1 = Math.min(iy + 1, height - 1);
        for (let c = 0; c < 3; c++) {
          const v =
            (1 - fy) * ((1 - fx) * data[(iy * width + ix) * 3 + c]! + fx * data[(iy * width + ix1) * 3 + c]!) +
            fy * ((1 - fx) * data[(iy1 * width + ix) * 3 + c]! + fx * data[(iy1 * width + ix1) * 3 + c]!);
          images[((n * crop + j) * crop + i) * 3 + c] = (v - MEAN[c]!) / STD[c]!;
        }
      }
    }
    out[n] = labels.indexOf(ann.category_id);
  });
  return { images, labels: out, count: anns.length };
}

function batchOf(crops: Crops, order: Int32Array, start: number, size: number, crop: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const per = crop * crop * 3;
  const images = new Float32Array(size * per);
  const labels = new Int32Array(size);
  for (let k = 0; k < size; k++) {
    const n = order[(start + k) % crops.count]!;
    images.set(crops.images.subarray(n * per, (n + 1) * per), k * per);
    labels[k] = crops.labels[n]!;
  }
  return { x: tf.tensor4d(images, [size, crop, crop, 3]), y: tf.tensor1d(labels, 'int32') };
}

function shuffled(count: number, seed: number): Int32Array {
  return Int32Array.from(new Rng(seed).shuffle(Array.from({ length: count }, (_, i) => i)));
}

/** `backend`: the tfjs backend's settings from the trainer's configuration (see runTrainJob). */
export async function* runPretrainJob(spec: PretrainJobSpec, signal?: AbortSignal, backend?: InitBackendOptions): AsyncGenerator<PretrainEvent> {
  await initBackend(backend);
  const result = (status: PretrainResultEvent['status'], failureReason: string, extra: Partial<PretrainResultEvent> = {}): PretrainResultEvent => ({
    kind: 'result', jobId: spec.jobId, status, failureReason, weightsPath: '', top1Accuracy: 0, steps: 0, ...extra,
  });
  let executor: GraphExecutor | undefined;
  let optimizer: tf.Optimizer | undefined;
  let step = 0;
  try {
    const options = { ...SHAPES_PRESETS.demo, imageSize: spec.imageSizePx, maxObjects: 3 };
    const train = generateShapes({ ...options, seed: spec.seed, numImages: spec.trainImages, split: 'train' });
    const held = generateShapes({ ...options, seed: spec.seed + 1, numImages: Math.max(20, spec.trainImages >> 3), split: 'val' });
    const trainCrops = cropObjects(train, spec.cropPx);
    const heldCrops = cropObjects(held, spec.cropPx);
    const numClasses = train.coco.categories.length;
    const backbone = { ...spec.backbone, baseChannels: scaleChannels(spec.backbone.baseChannels, spec.widthMultiplier) };
    const graph = buildGraph(
      { backbone, neck: { kind: 'c4' }, rpn: 'none', head: { kind: 'retinanet', stages: 0, channels: 256 }, input: { widthPx: spec.cropPx, heightPx: spec.cropPx } },
      // batch_norm with its running statistics left at 0 and 1: the classifier trains the affine
      // parameters only, exactly what the detector's frozen BatchNorm applies after loading.
      { form: 'classification', numClasses, norm: 'batch_norm' },
    );
    executor = new GraphExecutor(graph, spec.seed);
    optimizer = tf.train.adam(spec.learningRate);
    const variables = executor.params.trainableVariables();
    const order = shuffled(trainCrops.count, spec.seed);
    const started = performance.now();
    let lastProgress = 0;
    const logitsOf = (x: tf.Tensor4D): tf.Tensor2D => {
      const outputs = executor!.forward(x);
      const logits = outputs.get('logits')!.get(0)!;
      return tf.reshape(logits, [x.shape[0], numClasses]);
    };
    while ((spec.maxSteps === 0 || step < spec.maxSteps) && (spec.maxSeconds === 0 || (performance.now() - started) / 1000 < spec.maxSeconds)) {
      if (signal?.aborted) {
        yield result('cancelled', 'cancelled by the client', { steps: step });
        return;
      }
      const { x, y } = batchOf(trainCrops, order, step * spec.batchSize, spec.batchSize, spec.cropPx);
      const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(tf.oneHot(y, numClasses), logitsOf(x)) as tf.Scalar, true, variables)!;
      const value = (await loss.data())[0]!;
      tf.dispose([x, y, loss]);
      step++;
      if (!Number.isFinite(value)) {
        yield result('failed', `diverged: loss is ${value} at step ${step}`, { steps: step });
        return;
      }
      const now = performance.now();
      if (now - lastProgress > 1000) {
        yield { kind: 'progress', step, maxSteps: spec.maxSteps, loss: value, imagesPerSecond: (step * spec.batchSize) / ((now - started) / 1000), elapsedSeconds: (now - started) / 1000 };
        lastProgress = now;
      }
    }
    let correct = 0;
    const ordered = Int32Array.from({ length: heldCrops.count }, (_, i) => i);
    for (let start = 0; start < heldCrops.count; start += spec.batchSize) {
      const size = Math.min(spec.batchSize, heldCrops.count - start);
      const { x, y } = batchOf(heldCrops, ordered, start, size, spec.cropPx);
      const predicted = tf.tidy(() => tf.argMax(logitsOf(x), 1));
      const [p, t] = await Promise.all([predicted.data(), y.data()]);
      for (let k = 0; k < size; k++) if (p[k] === t[k]) correct++;
      tf.dispose([x, y, predicted]);
    }
    const tensors: TensorMap = new Map();
    for (const [name, tensor] of await executor.params.getWeights()) {
      const key = toTorchvisionName(backbone, name);
      if (key) tensors.set(key, { shape: tensor.shape, data: tensor.data });
    }
    await mkdir(dirname(spec.outputPath), { recursive: true });
    await writeSafetensors(spec.outputPath, tensors, { backbone: spec.backbone.kind, blocks: spec.backbone.blocks, base_channels: String(spec.backbone.baseChannels), source: 'sm-nas pretrain on the built-in dataset' });
    yield result('succeeded', '', { weightsPath: spec.outputPath, top1Accuracy: correct / heldCrops.count, steps: step });
  } catch (err) {
    yield result(signal?.aborted ? 'cancelled' : 'failed', err instanceof Error ? err.message : String(err), { steps: step });
  } finally {
    optimizer?.dispose();
    executor?.dispose();
  }
}

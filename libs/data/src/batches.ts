// Batching: letterbox resize (bilinear, aspect kept), flip and scale-jitter augmentation,
// normalisation to float NHWC, and boxes carried through the same transform.
import { Rng, deriveSeed } from '@sm-nas/random';
import type { CocoAnnotation, CocoDataset, DetectionDataset, RgbImage } from './types.js';

export interface InputSize {
  width: number;
  height: number;
}

/** Per-channel mean and std in 0..255 units: out = (pixel − mean) / std. */
export interface Normalization {
  mean: [number, number, number];
  std: [number, number, number];
}

/**
 * ImageNet statistics in 0..255 units (torchvision / mmdetection's `img_norm_cfg`:
 * mean 123.675, 116.28, 103.53; std 58.395, 57.12, 57.375). Letterbox padding is the mean colour,
 * so it normalises to exactly 0.
 */
export const IMAGENET_NORMALIZATION: Normalization = {
  mean: [123.675, 116.28, 103.53],
  std: [58.395, 57.12, 57.375],
};

/**
 * How a source image was placed on the network input: input = source · scale + offset, then, if
 * `flipped`, x → inputWidth − x. Offsets may be negative (scale jitter above 1 crops).
 */
export interface ImageTransform {
  imageId: number;
  sourceWidth: number;
  sourceHeight: number;
  inputWidth: number;
  inputHeight: number;
  scale: number;
  offsetX: number;
  offsetY: number;
  flipped: boolean;
}

/** Contiguous class indices 0..K−1 for category ids, in ascending category-id order. */
export interface LabelMap {
  categoryIds: number[];
  names: string[];
  indexOf(categoryId: number): number;
}

export function labelMap(coco: CocoDataset): LabelMap {
  const cats = [...coco.categories].sort((a, b) => a.id - b.id);
  const index = new Map(cats.map((c, i) => [c.id, i]));
  return {
    categoryIds: cats.map((c) => c.id),
    names: cats.map((c) => c.name),
    indexOf(categoryId: number): number {
      const i = index.get(categoryId);
      if (i === undefined) throw new RangeError(`unknown category id ${categoryId}`);
      return i;
    },
  };
}

/** The centred letterbox (no augmentation): the whole image fits, aspect ratio kept. */
export function letterboxTransform(imageId: number, source: { width: number; height: number }, input: InputSize): ImageTransform {
  const scale = Math.min(input.width / source.width, input.height / source.height);
  return {
    imageId,
    sourceWidth: source.width,
    sourceHeight: source.height,
    inputWidth: input.width,
    inputHeight: input.height,
    scale,
    offsetX: (input.width - source.width * scale) / 2,
    offsetY: (input.height - source.height * scale) / 2,
    flipped: false,
  };
}

/**
 * Draw `image` through transform `t` into `out` (HWC float, `t.inputHeight × t.inputWidth × 3`,
 * starting at `outOffset`), normalised. Bilinear sampling at pixel centres with edge clamping and no
 * anti-aliasing (like tf.image.resizeBilinear with half-pixel centres); pixels whose centre falls
 * outside the scaled image are padding (0 after normalisation).
 */
export function renderTransformed(
  image: RgbImage,
  t: ImageTransform,
  out: Float32Array,
  outOffset = 0,
  norm: Normalization = IMAGENET_NORMALIZATION,
): void {
  const { width: sw, height: sh, data } = image;
  const W = t.inputWidth;
  const H = t.inputHeight;
  // Column tables: for output column X (after flip), the two source columns and the weight.
  const cx0 = new Int32Array(W);
  const cx1 = new Int32Array(W);
  const cwx = new Float32Array(W);
  const cin = new Uint8Array(W);
  for (let X = 0; X < W; X++) {
    const Xu = t.flipped ? W - 1 - X : X;
    const u = (Xu + 0.5 - t.offsetX) / t.scale; // continuous source x of the pixel centre
    if (u < 0 || u >= sw) continue;
    const sx = Math.min(Math.max(u - 0.5, 0), sw - 1);
    const x0 = Math.floor(sx);
    cx0[X] = x0 * 3;
    cx1[X] = Math.min(x0 + 1, sw - 1) * 3;
    cwx[X] = sx - x0;
    cin[X] = 1;
  }
  const [m0, m1, m2] = norm.mean;
  const i0 = 1 / norm.std[0];
  const i1 = 1 / norm.std[1];
  const i2 = 1 / norm.std[2];
  for (let Y = 0; Y < H; Y++) {
    let o = outOffset + Y * W * 3;
    const v = (Y + 0.5 - t.offsetY) / t.scale;
    if (v < 0 || v >= sh) {
      out.fill(0, o, o + W * 3);
      continue;
    }
    const sy = Math.min(Math.max(v - 0.5, 0), sh - 1);
    const y0 = Math.floor(sy);
    const wy = sy - y0;
    const r0 = y0 * sw * 3;
    const r1 = Math.min(y0 + 1, sh - 1) * sw * 3;
    for (let X = 0; X < W; X++, o += 3) {
      if (!cin[X]) {
        out[o] = out[o + 1] = out[o + 2] = 0;
        continue;
      }
      const a = cx0[X] as number;
      const b = cx1[X] as number;
      const wx = cwx[X] as number;
      const w00 = (1 - wx) * (1 - wy);
      const w01 = wx * (1 - wy);
      const w10 = (1 - wx) * wy;
      const w11 = wx * wy;
      for (let c = 0; c < 3; c++) {
        const val =
          (data[r0 + a + c] as number) * w00 +
          (data[r0 + b + c] as number) * w01 +
          (data[r1 + a + c] as number) * w10 +
          (data[r1 + b + c] as number) * w11;
        out[o + c] = (val - (c === 0 ? m0 : c === 1 ? m1 : m2)) * (c === 0 ? i0 : c === 1 ? i1 : i2);
      }
    }
  }
}

/** Map a COCO [x, y, w, h] source box to [x1, y1, x2, y2] on the input (unclipped). */
export function toInputBox(bbox: readonly number[], t: ImageTransform): [number, number, number, number] {
  const [x, y, w, h] = bbox as [number, number, number, number];
  let x1 = x * t.scale + t.offsetX;
  let x2 = (x + w) * t.scale + t.offsetX;
  const y1 = y * t.scale + t.offsetY;
  const y2 = (y + h) * t.scale + t.offsetY;
  if (t.flipped) [x1, x2] = [t.inputWidth - x2, t.inputWidth - x1];
  return [x1, y1, x2, y2];
}

/** Map an input-space [x1, y1, x2, y2] box (e.g. a prediction) back to a COCO [x, y, w, h]. */
export function toSourceBox(box: readonly number[], t: ImageTransform): [number, number, number, number] {
  const [bx1, y1, bx2, y2] = box as [number, number, number, number];
  const [x1, x2] = t.flipped ? [t.inputWidth - bx2, t.inputWidth - bx1] : [bx1, bx2];
  const sx1 = (x1 - t.offsetX) / t.scale;
  const sy1 = (y1 - t.offsetY) / t.scale;
  return [sx1, sy1, (x2 - t.offsetX) / t.scale - sx1, (y2 - t.offsetY) / t.scale - sy1];
}

export interface Augment {
  /** Horizontal flip with probability 1/2. */
  flip?: boolean;
  /**
   * Multiply the letterbox scale by a factor uniform in [lo, hi]; the scaled image is then placed
   * at a random offset (cropped when larger than the input, padded when smaller).
   */
  scaleJitter?: [number, number];
}

export interface BatchOptions {
  dataset: DetectionDataset;
  batchSize: number;
  inputSize: InputSize;
  /** Seed of shuffling and augmentation. Default 0. */
  seed?: number;
  /** Mixed into the seed so each epoch gets a fresh order and fresh augmentation. Default 0. */
  epoch?: number;
  /** Omit or `false` for evaluation: centred letterbox, no flip. */
  augment?: Augment | false;
  /** Shuffle image order. Default true. */
  shuffle?: boolean;
  /** Drop a final batch smaller than batchSize. Default false. */
  dropLast?: boolean;
  normalize?: Normalization;
  /** Boxes narrower or shorter than this (px, after clipping to the input) are dropped. Default 1. */
  minBoxSize?: number;
  /** Keep `iscrowd: 1` annotations. Default false (crowd regions are not training targets). */
  includeCrowd?: boolean;
}

export interface Batch {
  /** NHWC float32, normalised (see `normalize`), `shape` = [n, height, width, 3]. */
  images: Float32Array;
  shape: [number, number, number, number];
  /** Per image: k boxes as [x1, y1, x2, y2, x1, ...] in input pixels, clipped to the input. */
  boxes: Float32Array[];
  /** Per image: k contiguous class indices (see `labelMap`), aligned with `boxes`. */
  labels: Int32Array[];
  imageIds: number[];
  /** Per image: the letterbox scale actually applied (jitter included). */
  scales: number[];
  /** Per image: the full transform, to map predictions back with `toSourceBox`. */
  transforms: ImageTransform[];
}

/**
 * One epoch of batches. Deterministic in (dataset, options): the order comes from
 * `deriveSeed(seed, epoch)`, and sample k's augmentation from its own stream derived from that and
 * k, so it does not depend on batchSize. Images are decoded one at a time via `dataset.readImage`.
 */
export function* batches(options: BatchOptions): Generator<Batch> {
  const { dataset, batchSize, inputSize, seed = 0, epoch = 0, shuffle = true, dropLast = false } = options;
  const { minBoxSize = 1, includeCrowd = false, normalize = IMAGENET_NORMALIZATION } = options;
  const augment = options.augment || null;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be an integer >= 1, got ${batchSize}`);
  const { width: W, height: H } = inputSize;
  if (!Number.isInteger(W) || !Number.isInteger(H) || W < 1 || H < 1) {
    throw new RangeError(`inputSize must be positive integers, got ${W}x${H}`);
  }
  if (augment?.scaleJitter) {
    const [lo, hi] = augment.scaleJitter;
    if (!(lo > 0 && hi >= lo)) throw new RangeError(`augment.scaleJitter must satisfy 0 < lo <= hi, got [${lo}, ${hi}]`);
  }
  const coco = dataset.coco;
  const labels = labelMap(coco);
  const byImage = new Map<number, CocoAnnotation[]>();
  for (const a of coco.annotations) {
    if (a.iscrowd && !includeCrowd) continue;
    let list = byImage.get(a.image_id);
    if (!list) byImage.set(a.image_id, (list = []));
    list.push(a);
  }
  const epochSeed = deriveSeed(deriveSeed(seed, 'batches'), epoch);
  const order = coco.images.map((_, i) => i);
  if (shuffle) Rng.mulberry32(epochSeed).shuffle(order);

  for (let start = 0; start < order.length; start += batchSize) {
    const n = Math.min(batchSize, order.length - start);
    if (n < batchSize && dropLast) break;
    const images = new Float32Array(n * H * W * 3);
    const batch: Batch = { images, shape: [n, H, W, 3], boxes: [], labels: [], imageIds: [], scales: [], transforms: [] };
    for (let k = 0; k < n; k++) {
      const pos = start + k;
      const meta = coco.images[order[pos] as number]!;
      const t = letterboxTransform(meta.id, meta, inputSize);
      if (augment) {
        const rng = Rng.mulberry32(deriveSeed(epochSeed, pos));
        if (augment.scaleJitter) {
          t.scale *= rng.uniform(augment.scaleJitter[0], augment.scaleJitter[1]);
          const slackX = W - meta.width * t.scale;
          const slackY = H - meta.height * t.scale;
          t.offsetX = rng.uniform(Math.min(0, slackX), Math.max(0, slackX));
          t.offsetY = rng.uniform(Math.min(0, slackY), Math.max(0, slackY));
        }
        if (augment.flip) t.flipped = rng.chance(0.5);
      }
      const image = dataset.readImage(meta.id);
      if (image.width !== meta.width || image.height !== meta.height) {
        throw new RangeError(`image ${meta.id}: pixels are ${image.width}x${image.height}, record says ${meta.width}x${meta.height}`);
      }
      renderTransformed(image, t, images, k * H * W * 3, normalize);
      const anns = byImage.get(meta.id) ?? [];
      const boxes: number[] = [];
      const cls: number[] = [];
      for (const a of anns) {
        const [x1, y1, x2, y2] = toInputBox(a.bbox, t);
        const cx1 = Math.max(0, x1);
        const cy1 = Math.max(0, y1);
        const cx2 = Math.min(W, x2);
        const cy2 = Math.min(H, y2);
        if (cx2 - cx1 < minBoxSize || cy2 - cy1 < minBoxSize) continue;
        boxes.push(cx1, cy1, cx2, cy2);
        cls.push(labels.indexOf(a.category_id));
      }
      batch.boxes.push(Float32Array.from(boxes));
      batch.labels.push(Int32Array.from(cls));
      batch.imageIds.push(meta.id);
      batch.scales.push(t.scale);
      batch.transforms.push(t);
    }
    yield batch;
  }
}

/** An in-memory dataset from COCO records and decoded images (aligned with `coco.images`). */
export function inMemoryDataset(coco: CocoDataset, images: readonly RgbImage[]): DetectionDataset {
  if (images.length !== coco.images.length) {
    throw new RangeError(`${coco.images.length} image records but ${images.length} images`);
  }
  const byId = new Map(coco.images.map((m, i) => [m.id, images[i] as RgbImage]));
  return {
    coco,
    readImage(imageId: number): RgbImage {
      const im = byId.get(imageId);
      if (!im) throw new RangeError(`no image with id ${imageId}`);
      return im;
    },
  };
}

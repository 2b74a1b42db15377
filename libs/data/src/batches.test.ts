import { describe, expect, it } from 'vitest';
import {
  IMAGENET_NORMALIZATION,
  batches,
  inMemoryDataset,
  labelMap,
  letterboxTransform,
  toInputBox,
  toSourceBox,
  type Batch,
  type Normalization,
} from './batches.js';
import { generateShapes } from './shapes.js';
import type { CocoDataset, RgbImage } from './types.js';

const UNIT: Normalization = { mean: [0, 0, 0], std: [255, 255, 255] };

/** A 100x60 black image with a white rectangle on pixels x ∈ [20, 50), y ∈ [10, 30). */
function knownObject() {
  const width = 100;
  const height = 60;
  const data = new Uint8Array(width * height * 3);
  for (let y = 10; y < 30; y++) for (let x = 20; x < 50; x++) data.fill(255, (y * width + x) * 3, (y * width + x) * 3 + 3);
  const image: RgbImage = { width, height, data };
  const coco: CocoDataset = {
    images: [{ id: 7, file_name: 'known.png', width, height }],
    annotations: [{ id: 1, image_id: 7, category_id: 5, bbox: [20, 10, 30, 20], area: 600, iscrowd: 0 }],
    categories: [
      { id: 2, name: 'other' },
      { id: 5, name: 'box' },
    ],
  };
  return inMemoryDataset(coco, [image]);
}

/** Tight box [x1, y1, x2, y2] (pixel edges) of pixels brighter than half in channel 0. */
function brightBox(b: Batch, k: number): number[] | null {
  const [, H, W] = b.shape;
  let x1 = Infinity, y1 = Infinity, x2 = -1, y2 = -1;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if ((b.images[((k * H + y) * W + x) * 3] as number) > 0.5) {
        x1 = Math.min(x1, x); y1 = Math.min(y1, y); x2 = Math.max(x2, x + 1); y2 = Math.max(y2, y + 1);
      }
    }
  }
  return x2 < 0 ? null : [x1, y1, x2, y2];
}

describe('batches', () => {
  it('letterboxes without augmentation: centred, aspect kept, padding normalises to 0', () => {
    const [b] = [...batches({ dataset: knownObject(), batchSize: 1, inputSize: { width: 64, height: 64 }, normalize: UNIT })];
    const t = b!.transforms[0]!;
    expect(t.scale).toBeCloseTo(0.64); // min(64/100, 64/60)
    expect(t.offsetX).toBe(0);
    expect(t.offsetY).toBeCloseTo((64 - 60 * 0.64) / 2);
    expect(b!.scales).toEqual([t.scale]);
    expect(Array.from(b!.boxes[0]!)).toEqual([20 * 0.64, 10 * 0.64 + t.offsetY, 50 * 0.64, 30 * 0.64 + t.offsetY].map(Math.fround));
    expect(Array.from(b!.labels[0]!)).toEqual([1]); // category 5 is the second by id
    expect(b!.images[0]).toBe(0); // top-left is padding
    const bright = brightBox(b!, 0)!;
    b!.boxes[0]!.forEach((v, i) => expect(Math.abs(v - bright[i]!)).toBeLessThanOrEqual(1));
  });

  it('moves boxes with the pixels under flip and scale jitter', () => {
    const dataset = knownObject();
    let flipped = 0;
    const scales = new Set<number>();
    for (let epoch = 0; epoch < 60; epoch++) {
      for (const b of batches({
        dataset,
        batchSize: 1,
        inputSize: { width: 64, height: 48 },
        seed: 3,
        epoch,
        augment: { flip: true, scaleJitter: [0.6, 1.6] },
        normalize: UNIT,
      })) {
        const t = b.transforms[0]!;
        if (t.flipped) flipped++;
        scales.add(Math.round(t.scale * 100));
        const bright = brightBox(b, 0);
        const box = b.boxes[0]!;
        if (box.length === 0) {
          // Cropped away (or thinner than 1 px): at most a sliver of the object remains visible.
          if (bright) expect(Math.min(bright[2]! - bright[0]!, bright[3]! - bright[1]!)).toBeLessThanOrEqual(2);
          continue;
        }
        expect(bright).not.toBeNull();
        // Bilinear edges: the half-brightness contour lies within a pixel of the true edge.
        box.forEach((v, i) => expect(Math.abs(v - bright![i]!), `epoch ${epoch} coord ${i}`).toBeLessThanOrEqual(1));
      }
    }
    expect(flipped).toBeGreaterThan(15);
    expect(flipped).toBeLessThan(45);
    expect(scales.size).toBeGreaterThan(20);
  });

  it('maps predictions back to source boxes exactly', () => {
    const t = { ...letterboxTransform(1, { width: 100, height: 60 }, { width: 64, height: 64 }), flipped: true, scale: 0.8, offsetX: -5 };
    const src = [12.5, 7, 30, 21];
    toSourceBox(toInputBox(src, t), t).forEach((v, i) => expect(v).toBeCloseTo(src[i]!, 10));
  });

  it('has the right shapes and batch count on the built-in set', () => {
    const dataset = generateShapes({ seed: 1, numImages: 10, imageSize: 64 });
    const opts = { dataset, batchSize: 4, inputSize: { width: 32, height: 32 }, augment: { flip: true, scaleJitter: [0.8, 1.2] as [number, number] } };
    const all = [...batches(opts)];
    expect(all.map((b) => b.shape)).toEqual([[4, 32, 32, 3], [4, 32, 32, 3], [2, 32, 32, 3]]);
    expect(all[0]!.images).toHaveLength(4 * 32 * 32 * 3);
    expect(new Set(all.flatMap((b) => b.imageIds)).size).toBe(10);
    for (const b of all) {
      b.boxes.forEach((bx, k) => {
        expect(bx.length).toBe(b.labels[k]!.length * 4);
        for (let i = 0; i < bx.length; i += 4) {
          expect(bx[i]! >= 0 && bx[i + 1]! >= 0 && bx[i + 2]! <= 32 && bx[i + 3]! <= 32).toBe(true);
          expect(bx[i + 2]! - bx[i]!).toBeGreaterThanOrEqual(1);
        }
        for (const l of b.labels[k]!) expect(l >= 0 && l < 6).toBe(true);
      });
    }
    expect([...batches({ ...opts, dropLast: true })]).toHaveLength(2);
  });

  it('is deterministic for a seed and epoch, and varies with either', () => {
    const dataset = generateShapes({ seed: 2, numImages: 12, imageSize: 64 });
    const run = (seed: number, epoch = 0) =>
      [...batches({ dataset, batchSize: 5, inputSize: { width: 48, height: 48 }, seed, epoch, augment: { flip: true, scaleJitter: [0.8, 1.2] } })];
    const a = run(1);
    const b = run(1);
    expect(a.map((x) => x.imageIds)).toEqual(b.map((x) => x.imageIds));
    a.forEach((x, i) => {
      expect(Buffer.from(x.images.buffer).equals(Buffer.from(b[i]!.images.buffer))).toBe(true);
      expect(x.boxes).toEqual(b[i]!.boxes);
    });
    expect(run(2).map((x) => x.imageIds)).not.toEqual(a.map((x) => x.imageIds));
    expect(run(1, 1).map((x) => x.imageIds)).not.toEqual(a.map((x) => x.imageIds));
    // A sample's augmentation does not depend on the batch size.
    const single = [...batches({ dataset, batchSize: 1, inputSize: { width: 48, height: 48 }, seed: 1, augment: { flip: true, scaleJitter: [0.8, 1.2] } })];
    expect(single.map((x) => x.transforms[0])).toEqual(a.flatMap((x) => x.transforms));
  });

  it('normalises with ImageNet statistics by default', () => {
    const image: RgbImage = { width: 2, height: 2, data: new Uint8Array(12).fill(0) };
    image.data.set([124, 116, 104], 0);
    const coco: CocoDataset = { images: [{ id: 1, file_name: 'x.png', width: 2, height: 2 }], annotations: [], categories: [] };
    const [b] = [...batches({ dataset: inMemoryDataset(coco, [image]), batchSize: 1, inputSize: { width: 2, height: 2 } })];
    const { mean, std } = IMAGENET_NORMALIZATION;
    expect(b!.images[0]).toBeCloseTo((124 - mean[0]) / std[0], 5);
    expect(b!.images[3]).toBeCloseTo(-mean[0] / std[0], 5);
  });

  it('labelMap orders categories by id', () => {
    const m = labelMap({ images: [], annotations: [], categories: [{ id: 9, name: 'b' }, { id: 3, name: 'a' }] });
    expect(m.categoryIds).toEqual([3, 9]);
    expect(m.names).toEqual(['a', 'b']);
    expect(m.indexOf(9)).toBe(1);
    expect(() => m.indexOf(4)).toThrow(/unknown category id 4/);
  });
});

// Property tests over seeded random scenes: invariants of COCO AP that hold for any input.
import { describe, expect, it } from 'vitest';
import { evaluateBboxes } from './cocoeval.js';
import type { CocoAnnotation, CocoDataset, CocoDetection } from './types.js';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Scene {
  dataset: CocoDataset;
  detections: CocoDetection[];
}

/**
 * Ground truth on a 4x3 grid of 160-px cells (one object per cell at most, so objects never
 * overlap), sizes from 6 px to 150 px so every area range occurs; some crowd regions. Detections:
 * jittered copies of most objects plus random false positives, random scores.
 */
function scene(seed: number, { images = 20, categories = 5, fpPerImage = 5 } = {}): Scene {
  const rand = mulberry32(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const annotations: CocoAnnotation[] = [];
  const detections: CocoDetection[] = [];
  let id = 1;
  for (let image = 1; image <= images; image++) {
    for (let cell = 0; cell < 12; cell++) {
      if (rand() < 0.4) continue;
      const w = int(6, 150);
      const h = int(6, 150);
      const x = (cell % 4) * 160 + int(0, 160 - w);
      const y = Math.floor(cell / 4) * 160 + int(0, 160 - h);
      const category_id = int(1, categories);
      const iscrowd = rand() < 0.08 ? 1 : 0;
      annotations.push({ id: id++, image_id: image, category_id, bbox: [x, y, w, h], area: w * h * (0.6 + 0.4 * rand()), iscrowd });
      if (rand() < 0.8) {
        const j = () => (rand() - 0.5) * 0.3;
        detections.push({ image_id: image, category_id: rand() < 0.9 ? category_id : int(1, categories), bbox: [x + j() * w, y + j() * h, w * (1 + j()), h * (1 + j())], score: rand() });
      }
    }
    for (let n = 0; n < fpPerImage; n++) {
      detections.push({ image_id: image, category_id: int(1, categories), bbox: [int(0, 600), int(0, 440), int(4, 120), int(4, 120)], score: rand() });
    }
  }
  const categoriesList = Array.from({ length: categories }, (_, k) => ({ id: k + 1, name: `c${k + 1}` }));
  return { dataset: { images: Array.from({ length: images }, (_, i) => ({ id: i + 1, width: 640, height: 480 })), annotations, categories: categoriesList }, detections };
}

function sameBits(a: Float64Array, b: Float64Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

const SEEDS = Array.from({ length: 25 }, (_, n) => 1000 + n);

describe('properties', () => {
  it('every summary number, precision and recall is in [0, 1] or exactly -1', () => {
    for (const seed of SEEDS) {
      const { dataset, detections } = scene(seed);
      const r = evaluateBboxes(dataset, detections);
      const bad: number[] = [];
      for (const values of [r.stats, r.precision, r.recall, r.perCategory.map((c) => c.ap)]) {
        for (const v of values) if (!(v === -1 || (v >= 0 && v <= 1))) bad.push(v);
      }
      expect(bad, `seed ${seed}`).toEqual([]);
      expect(r.summary.ap).toBeGreaterThan(0);
    }
  });

  it('adding a false positive never raises any AP or AR', () => {
    for (const seed of SEEDS) {
      const { dataset, detections } = scene(seed);
      const before = evaluateBboxes(dataset, detections);
      const rand = mulberry32(seed ^ 0x5eed);
      for (let trial = 0; trial < 4; trial++) {
        const fp: CocoDetection = {
          image_id: 1 + Math.floor(rand() * dataset.images.length),
          category_id: 1 + Math.floor(rand() * dataset.categories.length),
          bbox: [5000, 5000, 4 + rand() * 150, 4 + rand() * 150], // outside every image: IoU 0 with all gt
          score: rand(),
        };
        const after = evaluateBboxes(dataset, [...detections, fp]);
        after.stats.forEach((v, n) => expect(v, `seed ${seed} stat ${n}`).toBeLessThanOrEqual(before.stats[n]!));
        after.perCategory.forEach((c, k) => expect(c.ap).toBeLessThanOrEqual(before.perCategory[k]!.ap));
      }
    }
  });

  it('perfect detections give AP 1, AR@100 1, and 1 or -1 per area range', () => {
    for (const seed of SEEDS) {
      const { dataset } = scene(seed);
      const rand = mulberry32(seed);
      const perfect = dataset.annotations
        .filter((a) => !a.iscrowd)
        .map((a) => ({ image_id: a.image_id, category_id: a.category_id, bbox: a.bbox, score: rand() }));
      const r = evaluateBboxes(dataset, perfect);
      expect(r.summary.ap).toBeCloseTo(1, 12);
      expect(r.summary.ap50).toBeCloseTo(1, 12);
      expect(r.summary.ar100).toBe(1);
      for (const v of [r.summary.apSmall, r.summary.apMedium, r.summary.apLarge]) {
        expect(v === -1 || Math.abs(v - 1) < 1e-12, `seed ${seed}: ${v}`).toBe(true);
      }
    }
  });

  it('the order of the results file does not matter when scores are distinct', () => {
    for (const seed of SEEDS.slice(0, 8)) {
      const { dataset, detections } = scene(seed);
      const r1 = evaluateBboxes(dataset, detections);
      const r2 = evaluateBboxes(dataset, [...detections].reverse());
      expect(r2.stats).toEqual(r1.stats);
      expect(sameBits(r2.precision, r1.precision)).toBe(true);
      expect(sameBits(r2.scores, r1.scores)).toBe(true);
    }
  });
});

// Not a timed test (speed belongs in bench/): a COCO-sized run whose summary must obey the
// orderings pycocotools' definitions imply, whatever the detections are.
describe('at scale', () => {
  it('evaluates 500 images x 100 detections (80 categories) with consistent summary numbers', () => {
    const rand = mulberry32(7);
    const images = 500;
    const annotations: CocoAnnotation[] = [];
    const detections: CocoDetection[] = [];
    let id = 1;
    for (let image = 1; image <= images; image++) {
      const objects: [number, number, number, number, number][] = [];
      for (let n = 0; n < 7; n++) {
        const w = 8 + rand() * 200;
        const h = 8 + rand() * 200;
        const obj: [number, number, number, number, number] = [rand() * (640 - w), rand() * (480 - h), w, h, 1 + Math.floor(rand() * 80)];
        objects.push(obj);
        annotations.push({ id: id++, image_id: image, category_id: obj[4], bbox: obj.slice(0, 4), area: w * h, iscrowd: rand() < 0.02 ? 1 : 0 });
      }
      for (let n = 0; n < 100; n++) {
        const o = objects[n % objects.length]!;
        const near = n < 30;
        const bbox = near
          ? [o[0] + (rand() - 0.5) * 20, o[1] + (rand() - 0.5) * 20, o[2] * (0.8 + rand() * 0.4), o[3] * (0.8 + rand() * 0.4)]
          : [rand() * 600, rand() * 440, 4 + rand() * 200, 4 + rand() * 200];
        detections.push({ image_id: image, category_id: near ? o[4] : 1 + Math.floor(rand() * 80), bbox, score: rand() });
      }
    }
    const dataset: CocoDataset = {
      images: Array.from({ length: images }, (_, i) => ({ id: i + 1, width: 640, height: 480 })),
      annotations,
      categories: Array.from({ length: 80 }, (_, k) => ({ id: k + 1, name: `c${k + 1}` })),
    };
    const r = evaluateBboxes(dataset, detections);
    const s = r.summary;
    // AP averages the thresholds 0.50:0.95 and a stricter IoU threshold never matches more, so AP,
    // AP75 <= AP50; recall can only grow with more detections allowed per image.
    expect(s.ap50).toBeGreaterThan(0);
    expect(s.ap50).toBeGreaterThanOrEqual(s.ap75);
    expect(s.ap).toBeLessThanOrEqual(s.ap50);
    expect(s.ar1).toBeLessThanOrEqual(s.ar10);
    expect(s.ar10).toBeLessThanOrEqual(s.ar100);
    for (const v of r.stats) expect(v === -1 || (v >= 0 && v <= 1)).toBe(true);
  });
});

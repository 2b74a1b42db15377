import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CocoFormatError, exportCoco, loadCoco } from './coco.js';
import { generateShapes } from './shapes.js';
import type { CocoDataset } from './types.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sm-nas-data-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('exportCoco / loadCoco', () => {
  it('round-trips the built-in set: identical pixels and annotations', async () => {
    const ds = generateShapes({ seed: 4, numImages: 25, imageSize: 64, split: 'train' });
    const paths = await exportCoco(ds, dir);
    const loaded = await loadCoco(paths);
    expect(loaded.coco).toEqual(ds.coco);
    for (const im of ds.coco.images) {
      const a = loaded.readImage(im.id);
      expect(a.width).toBe(64);
      expect(Buffer.from(a.data).equals(Buffer.from(ds.readImage(im.id).data))).toBe(true);
    }
    expect(loaded.imagePath(1)).toBe(join(paths.imagesDir, 'train_000001.png'));
  });

  it('converts grayscale and RGBA PNG and JPEG to RGB', async () => {
    const w = 4;
    const h = 3;
    const gray = new PNG({ width: w, height: h });
    const rgba = new PNG({ width: w, height: h });
    for (let i = 0; i < w * h; i++) {
      gray.data.set([i * 10, i * 10, i * 10, 255], i * 4);
      rgba.data.set([i, 100, 200, i * 20], i * 4);
    }
    await writeFile(join(dir, 'gray.png'), PNG.sync.write(gray, { colorType: 0 }));
    await writeFile(join(dir, 'rgba.png'), PNG.sync.write(rgba, { colorType: 6 }));
    const flat = new Uint8Array(w * h * 4).fill(128);
    await writeFile(join(dir, 'flat.jpg'), jpeg.encode({ width: w, height: h, data: flat }, 95).data);
    const coco: CocoDataset = {
      images: [
        { id: 1, file_name: 'gray.png', width: w, height: h },
        { id: 2, file_name: 'rgba.png', width: w, height: h },
        { id: 3, file_name: 'flat.jpg', width: w, height: h },
      ],
      annotations: [],
      categories: [{ id: 1, name: 'thing' }],
    };
    await writeFile(join(dir, 'a.json'), JSON.stringify(coco));
    const ds = await loadCoco({ annotationsPath: join(dir, 'a.json'), imagesDir: dir });
    const g = ds.readImage(1);
    expect(g.data).toHaveLength(w * h * 3);
    expect(Array.from(g.data.subarray(15, 18))).toEqual([50, 50, 50]); // pixel 5
    const r = ds.readImage(2);
    expect(Array.from(r.data.subarray(15, 18))).toEqual([5, 100, 200]); // alpha dropped
    const j = ds.readImage(3);
    expect(j.data).toHaveLength(w * h * 3);
    for (const v of j.data) expect(Math.abs(v - 128)).toBeLessThanOrEqual(2); // lossy JPEG
  });

  describe('errors', () => {
    async function write(mutate: (c: CocoDataset) => void, verifyFiles = true) {
      const ds = generateShapes({ seed: 1, numImages: 3, imageSize: 32, sizeRange: [0.25, 0.5] });
      const paths = await exportCoco(ds, dir);
      const coco = JSON.parse(await readFile(paths.annotationsPath, 'utf8')) as CocoDataset;
      mutate(coco);
      await writeFile(paths.annotationsPath, JSON.stringify(coco));
      return loadCoco({ ...paths, verifyFiles });
    }
    const ann = (c: CocoDataset) => c.annotations[0] as unknown as Record<string, unknown>;

    it('names the file of a missing image, at load or at read', async () => {
      const paths = await exportCoco(generateShapes({ numImages: 2, imageSize: 32 }), dir);
      await unlink(join(paths.imagesDir, 'shapes_000002.png'));
      await expect(loadCoco(paths)).rejects.toThrow(/image 2: file not found: .*shapes_000002\.png/);
      const lazy = await loadCoco({ ...paths, verifyFiles: false });
      expect(lazy.readImage(1).width).toBe(32);
      expect(() => lazy.readImage(2)).toThrow(CocoFormatError);
      expect(() => lazy.readImage(2)).toThrow(/image 2: file not found: .*shapes_000002\.png/);
    });

    it.each([
      ['bbox not 4 numbers', (c: CocoDataset) => void (ann(c).bbox = [1, 2, 3]), /annotation 1: field 'bbox' must be 4 finite numbers/],
      ['bbox non-numeric', (c: CocoDataset) => void (ann(c).bbox = [1, 2, null, 4]), /annotation 1: field 'bbox' must be 4 finite/],
      ['negative size', (c: CocoDataset) => void (ann(c).bbox = [1, 2, -3, 4]), /annotation 1: field 'bbox' has negative size/],
      ['unknown image', (c: CocoDataset) => void (ann(c).image_id = 99), /annotation 1: field 'image_id' refers to unknown image 99/],
      ['unknown category', (c: CocoDataset) => void (ann(c).category_id = 42), /annotation 1: field 'category_id' refers to unknown category 42/],
      ['out of bounds', (c: CocoDataset) => void (ann(c).bbox = [20, 20, 20, 5]), /annotation 1: field 'bbox' .* leaves image 1 \(32x32\) by more than 1 px/],
      ['bad iscrowd', (c: CocoDataset) => void (ann(c).iscrowd = 2), /annotation 1: field 'iscrowd'/],
      ['duplicate id', (c: CocoDataset) => void (c.annotations.push({ ...c.annotations[0]! })), /annotation 1: field 'id' is a duplicate/],
      ['image without size', (c: CocoDataset) => void ((c.images[0] as unknown as Record<string, unknown>).width = 0), /image 1: field 'width'/],
    ])('rejects %s, naming the annotation and field', async (_name, mutate, message) => {
      const p = write(mutate);
      await expect(p).rejects.toThrow(CocoFormatError);
      await expect(write(mutate)).rejects.toThrow(message);
    });

    it('tolerates a box 1 px past the edge and defaults iscrowd and area', async () => {
      const ds = await write((c) => {
        const a = ann(c);
        a.bbox = [0, 0, 33, 32];
        delete a.iscrowd;
        delete a.area;
      });
      expect(ds.coco.annotations[0]).toMatchObject({ bbox: [0, 0, 33, 32], iscrowd: 0, area: 33 * 32 });
    });

    it('names the file of an undecodable image', async () => {
      const paths = await exportCoco(generateShapes({ numImages: 1, imageSize: 32 }), dir);
      await writeFile(join(paths.imagesDir, 'shapes_000001.png'), 'not an image');
      const ds = await loadCoco(paths);
      expect(() => ds.readImage(1)).toThrow(/image 1: cannot decode .*shapes_000001\.png/);
    });
  });
});

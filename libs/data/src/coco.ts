// COCO-format export and loading (annotations JSON + image files), with field-level validation.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { decodeImage, encodePng } from './image.js';
import type { CocoAnnotation, CocoBbox, CocoCategory, CocoDataset, CocoImage, DetectionDataset, RgbImage } from './types.js';

/** A COCO file that cannot be used; the message names the file and the offending record/field. */
export class CocoFormatError extends Error {
  override name = 'CocoFormatError';
}

/**
 * Write `dataset` as `<dir>/annotations.json` plus one PNG per image under `<dir>/images/`
 * (at each image's `file_name`). Returns the paths `loadCoco` takes.
 */
export async function exportCoco(
  dataset: DetectionDataset,
  dir: string,
  options: { annotationsFile?: string; imagesSubdir?: string } = {},
): Promise<{ annotationsPath: string; imagesDir: string }> {
  const annotationsPath = join(dir, options.annotationsFile ?? 'annotations.json');
  const imagesDir = join(dir, options.imagesSubdir ?? 'images');
  await mkdir(imagesDir, { recursive: true });
  for (const im of dataset.coco.images) {
    const path = join(imagesDir, im.file_name);
    if (!im.file_name.toLowerCase().endsWith('.png')) {
      throw new CocoFormatError(`exportCoco writes PNG; image ${im.id} has file_name '${im.file_name}'`);
    }
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, encodePng(dataset.readImage(im.id)));
  }
  await writeFile(annotationsPath, JSON.stringify(dataset.coco));
  return { annotationsPath, imagesDir };
}

export interface LoadCocoOptions {
  annotationsPath: string;
  imagesDir: string;
  /** How far (pixels) a box may reach outside its image before it is an error. Default 1. */
  boundsTolerance?: number;
  /** Check every image file exists while loading (an `existsSync` each). Default true. */
  verifyFiles?: boolean;
}

/** A COCO dataset on disk; images are read and decoded on every `readImage` call, never cached. */
export interface CocoDiskDataset extends DetectionDataset {
  /** Absolute path of an image's file. */
  imagePath(imageId: number): string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Read a COCO detection annotation file and check it; images stay on disk until `readImage`.
 * Missing `iscrowd` reads as 0 and missing `area` as the box area; extra fields are kept.
 */
export async function loadCoco(options: LoadCocoOptions): Promise<CocoDiskDataset> {
  const { annotationsPath, boundsTolerance = 1, verifyFiles = true } = options;
  const imagesDir = resolve(options.imagesDir);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(annotationsPath, 'utf8'));
  } catch (err) {
    throw new CocoFormatError(`${annotationsPath}: cannot read annotations: ${(err as Error).message}`);
  }
  const fail = (what: string): never => {
    throw new CocoFormatError(`${annotationsPath}: ${what}`);
  };
  if (!isObject(raw)) fail('top level must be an object');
  const root = raw as Record<string, unknown>;
  for (const key of ['images', 'annotations', 'categories'] as const) {
    if (!Array.isArray(root[key])) fail(`'${key}' must be an array`);
  }

  const categories: CocoCategory[] = [];
  const categoryIds = new Set<number>();
  for (const [i, c] of (root.categories as unknown[]).entries()) {
    if (!isObject(c) || !Number.isInteger(c.id)) fail(`categories[${i}]: field 'id' must be an integer`);
    const cat = c as Record<string, unknown>;
    if (typeof cat.name !== 'string') fail(`category ${cat.id as number}: field 'name' must be a string`);
    if (categoryIds.has(cat.id as number)) fail(`category ${cat.id as number}: duplicate id`);
    categoryIds.add(cat.id as number);
    categories.push(cat as unknown as CocoCategory);
  }

  const images: CocoImage[] = [];
  const imagesById = new Map<number, CocoImage>();
  for (const [i, m] of (root.images as unknown[]).entries()) {
    if (!isObject(m) || !Number.isInteger(m.id)) fail(`images[${i}]: field 'id' must be an integer`);
    const im = m as Record<string, unknown>;
    const id = im.id as number;
    if (typeof im.file_name !== 'string' || im.file_name === '') fail(`image ${id}: field 'file_name' must be a non-empty string`);
    for (const f of ['width', 'height'] as const) {
      if (!Number.isInteger(im[f]) || (im[f] as number) <= 0) fail(`image ${id}: field '${f}' must be a positive integer`);
    }
    if (imagesById.has(id)) fail(`image ${id}: duplicate id`);
    const image = im as unknown as CocoImage;
    if (verifyFiles && !existsSync(join(imagesDir, image.file_name))) {
      throw new CocoFormatError(`image ${id}: file not found: ${join(imagesDir, image.file_name)}`);
    }
    imagesById.set(id, image);
    images.push(image);
  }

  const annotations: CocoAnnotation[] = [];
  const annotationIds = new Set<number>();
  for (const [i, a] of (root.annotations as unknown[]).entries()) {
    if (!isObject(a) || !Number.isInteger(a.id)) fail(`annotations[${i}]: field 'id' must be an integer`);
    const ann = a as Record<string, unknown>;
    const id = ann.id as number;
    const bad = (field: string, why: string): never => fail(`annotation ${id}: field '${field}' ${why}`);
    if (annotationIds.has(id)) bad('id', 'is a duplicate');
    annotationIds.add(id);
    const image = imagesById.get(ann.image_id as number);
    if (!image) bad('image_id', `refers to unknown image ${JSON.stringify(ann.image_id)}`);
    if (!categoryIds.has(ann.category_id as number)) bad('category_id', `refers to unknown category ${JSON.stringify(ann.category_id)}`);
    const bbox = ann.bbox;
    if (!Array.isArray(bbox) || bbox.length !== 4 || !bbox.every(isFiniteNumber)) {
      bad('bbox', `must be 4 finite numbers [x, y, w, h], got ${JSON.stringify(bbox)}`);
    }
    const [x, y, w, h] = bbox as CocoBbox;
    if (w < 0 || h < 0) bad('bbox', `has negative size [${x}, ${y}, ${w}, ${h}]`);
    const { width, height } = image as CocoImage;
    const tol = boundsTolerance;
    if (x < -tol || y < -tol || x + w > width + tol || y + h > height + tol) {
      bad('bbox', `[${x}, ${y}, ${w}, ${h}] leaves image ${(image as CocoImage).id} (${width}x${height}) by more than ${tol} px`);
    }
    const iscrowd = ann.iscrowd ?? 0;
    if (iscrowd !== 0 && iscrowd !== 1) bad('iscrowd', `must be 0 or 1, got ${JSON.stringify(iscrowd)}`);
    const area = ann.area ?? w * h;
    if (!isFiniteNumber(area) || area < 0) bad('area', `must be a finite number >= 0, got ${JSON.stringify(area)}`);
    annotations.push({ ...(ann as unknown as CocoAnnotation), iscrowd: iscrowd as 0 | 1, area: area as number });
  }

  const coco: CocoDataset = { images, annotations, categories };
  if (isObject(root.info)) coco.info = root.info;
  const imagePath = (imageId: number): string => {
    const im = imagesById.get(imageId);
    if (!im) throw new RangeError(`no image with id ${imageId}`);
    return join(imagesDir, im.file_name);
  };
  return {
    coco,
    imagePath,
    readImage(imageId: number): RgbImage {
      const path = imagePath(imageId);
      const meta = imagesById.get(imageId) as CocoImage;
      let bytes: Buffer;
      try {
        bytes = readFileSync(path);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        throw new CocoFormatError(
          e.code === 'ENOENT' ? `image ${imageId}: file not found: ${path}` : `image ${imageId}: cannot read ${path}: ${e.message}`,
        );
      }
      let image: RgbImage;
      try {
        image = decodeImage(bytes);
      } catch (err) {
        throw new CocoFormatError(`image ${imageId}: cannot decode ${path}: ${(err as Error).message}`);
      }
      if (image.width !== meta.width || image.height !== meta.height) {
        throw new CocoFormatError(
          `image ${imageId}: ${path} is ${image.width}x${image.height} but annotations say ${meta.width}x${meta.height}`,
        );
      }
      return image;
    },
  };
}

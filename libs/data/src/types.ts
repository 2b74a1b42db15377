// Shared types: decoded images, COCO records, and the dataset interface the pipeline reads.

/** A decoded 8-bit RGB image, row-major HWC: pixel (x, y) channel c at `(y * width + x) * 3 + c`. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** COCO `bbox`: [x, y, width, height] in pixels, (x, y) the top-left corner. */
export type CocoBbox = [number, number, number, number];

export interface CocoImage {
  id: number;
  file_name: string;
  width: number;
  height: number;
}

export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  bbox: CocoBbox;
  /** Object area in pixels (for the built-in set: visible mask pixels, see README). */
  area: number;
  iscrowd: 0 | 1;
  /** Built-in set only: fraction of the object's pixels hidden by objects drawn over it, 0..1. */
  occlusion?: number;
  /** Built-in set only: tight box of the pixels that remain visible. */
  visible_bbox?: CocoBbox;
}

export interface CocoCategory {
  id: number;
  name: string;
  supercategory?: string;
}

export interface CocoDataset {
  info?: Record<string, unknown>;
  images: CocoImage[];
  annotations: CocoAnnotation[];
  categories: CocoCategory[];
}

/**
 * What the batching pipeline and `exportCoco` read: COCO records plus a way to decode one image.
 * `readImage` may decode on every call (the loader does), so callers should not assume it is free.
 */
export interface DetectionDataset {
  readonly coco: CocoDataset;
  readImage(imageId: number): RgbImage;
}

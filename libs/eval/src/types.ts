/** An `[x, y, width, height]` box in pixels, COCO's layout (no +1 anywhere). */
export type BBox = readonly [number, number, number, number] | readonly number[];

export interface CocoImage {
  readonly id: number;
  readonly width?: number;
  readonly height?: number;
}

export interface CocoAnnotation {
  readonly id: number;
  readonly image_id: number;
  readonly category_id: number;
  readonly bbox: BBox;
  /** Object area in pixels; area ranges are decided by this field, not by the box. */
  readonly area: number;
  /** 1 (or true) for a crowd region: never a miss, and detections on it are ignored. */
  readonly iscrowd?: number | boolean;
}

export interface CocoCategory {
  readonly id: number;
  readonly name: string;
}

/** The parts of a COCO instances file that bounding-box evaluation reads. */
export interface CocoDataset {
  readonly images: readonly CocoImage[];
  readonly annotations: readonly CocoAnnotation[];
  readonly categories: readonly CocoCategory[];
}

/** One entry of a COCO results file. Any `area` on it is ignored (pycocotools uses w*h). */
export interface CocoDetection {
  readonly image_id: number;
  readonly category_id: number;
  readonly bbox: BBox;
  readonly score: number;
}

export type AreaLabel = 'all' | 'small' | 'medium' | 'large';

/**
 * The 12 numbers of `COCOeval.summarize()` for bbox, in its order. -1 where undefined (no
 * ground truth in that area range).
 */
export interface CocoSummary {
  /** AP @[IoU=0.50:0.95 | area=all | maxDets=100] */
  readonly ap: number;
  /** AP @[IoU=0.50 | area=all | maxDets=100] */
  readonly ap50: number;
  /** AP @[IoU=0.75 | area=all | maxDets=100] */
  readonly ap75: number;
  readonly apSmall: number;
  readonly apMedium: number;
  readonly apLarge: number;
  /** AR @[IoU=0.50:0.95 | area=all | maxDets=1] */
  readonly ar1: number;
  readonly ar10: number;
  readonly ar100: number;
  readonly arSmall: number;
  readonly arMedium: number;
  readonly arLarge: number;
}

export interface CategoryMetrics {
  readonly categoryId: number;
  readonly name: string;
  /** Mean of precision over IoU 0.50:0.95 and the 101 recall points (area all, 100 dets); -1 without ground truth. */
  readonly ap: number;
  readonly ap50: number;
  readonly ap75: number;
  /** Mean recall over IoU 0.50:0.95 (area all, 100 dets); -1 without ground truth. */
  readonly ar100: number;
  /** Ground-truth objects that count (not crowd), area all. */
  readonly numGt: number;
}

export interface CocoEvalParams {
  /** T = 10: 0.50, 0.55, ..., 0.95 (numpy linspace values). */
  readonly iouThresholds: readonly number[];
  /** R = 101: 0, 0.01, ..., 1. */
  readonly recallThresholds: readonly number[];
  /** A = 4, in this order: all, small, medium, large. Bounds are inclusive on both sides. */
  readonly areaRanges: readonly { readonly label: AreaLabel; readonly range: readonly [number, number] }[];
  /** M = 3: 1, 10, 100. */
  readonly maxDets: readonly number[];
  /** Sorted unique image ids of the dataset. */
  readonly imageIds: readonly number[];
  /** K: sorted unique category ids of the dataset; the K axis of the arrays follows this order. */
  readonly categoryIds: readonly number[];
}

export interface CocoEvalResult {
  /** The 12 summary numbers in `COCOeval.stats` order (see `COCO_STAT_NAMES`). */
  readonly stats: readonly number[];
  readonly summary: CocoSummary;
  /** One entry per dataset category, in `params.categoryIds` order. */
  readonly perCategory: readonly CategoryMetrics[];
  readonly params: CocoEvalParams;
  /** `[T, R, K, A, M]` as in `COCOeval.eval['counts']`. */
  readonly counts: readonly [number, number, number, number, number];
  /** `COCOeval.eval['precision']`, C order `[T][R][K][A][M]`; -1 where the category has no ground truth. */
  readonly precision: Float64Array;
  /** `COCOeval.eval['recall']`, C order `[T][K][A][M]`; -1 where the category has no ground truth. */
  readonly recall: Float64Array;
  /** `COCOeval.eval['scores']`, C order `[T][R][K][A][M]`: detection score at each recall point. */
  readonly scores: Float64Array;
}

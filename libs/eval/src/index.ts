export {
  AREA_RANGES,
  COCO_STAT_NAMES,
  CocoEvalInputError,
  evaluateBboxes,
  formatSummary,
  IOU_THRESHOLDS,
  MAX_DETS,
  precisionCurve,
  RECALL_THRESHOLDS,
} from './cocoeval.js';
export { bboxIou } from './iou.js';
export type {
  AreaLabel,
  BBox,
  CategoryMetrics,
  CocoAnnotation,
  CocoCategory,
  CocoDataset,
  CocoDetection,
  CocoEvalParams,
  CocoEvalResult,
  CocoImage,
  CocoSummary,
} from './types.js';

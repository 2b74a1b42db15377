// @sm-nas/eval: COCO bounding-box evaluation with pycocotools' COCOeval rules (iouType 'bbox',
// default Params), numbers equal to pycocotools' including its 1/(1+eps) "1.0" and numpy's
// pairwise-summed means. Where it knowingly differs from pycocotools:
// - matches are tracked by position, not by annotation id, so a ground truth with id 0 is matched
//   like any other (pycocotools stores the matched gt id and tests `dtm == 0`, so a detection
//   matched to gt id 0 turns into a false positive there);
// - annotations are used as given; pycocotools re-reads them by id, so duplicated ids collapse there;
// - an empty detection list evaluates to 0 / -1 (pycocotools' loadRes raises on it);
// - a missing `iscrowd` means 0 (pycocotools raises KeyError); NaN scores and malformed boxes are
//   rejected with CocoEvalInputError.
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

/**
 * @sm-nas/data — the detection data the trainer learns from, as plain typed arrays (no TF.js).
 *
 * - `generateShapes` / `generateShapesSplits`: the built-in synthetic set (no download,
 *   deterministic from a seed) meant for ranking detector architectures trained from scratch on a
 *   CPU in minutes. Its purpose and difficulty knobs are described in ../README.md.
 * - `exportCoco` / `loadCoco`: COCO JSON + PNG/JPEG on disk, validated, decoded lazily.
 * - `batches`: letterboxed, augmented, normalised NHWC float batches with boxes in input pixels.
 */
export type { CocoAnnotation, CocoBbox, CocoCategory, CocoDataset, CocoImage, DetectionDataset, RgbImage } from './types.js';
export { decodeImage, encodePng } from './image.js';
export {
  SHAPE_CLASSES,
  SHAPES_PRESETS,
  generateShapes,
  generateShapesSplits,
  renderShapesImage,
  shapesCategories,
  type ShapeClass,
  type ShapeObject,
  type ShapesDataset,
  type ShapesOptions,
} from './shapes.js';
export { CocoFormatError, exportCoco, loadCoco, type CocoDiskDataset, type LoadCocoOptions } from './coco.js';
export {
  IMAGENET_NORMALIZATION,
  batches,
  inMemoryDataset,
  labelMap,
  letterboxTransform,
  renderTransformed,
  toInputBox,
  toSourceBox,
  type Augment,
  type Batch,
  type BatchOptions,
  type ImageTransform,
  type InputSize,
  type LabelMap,
  type Normalization,
} from './batches.js';

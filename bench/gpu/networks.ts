// The networks of the GPU bench, named once for both sides: each row's `key` is what
// bench/gpu/summary.mjs pairs ours with PyTorch's by, and torch_peer.py writes the same keys
// (bench/gpu/networks.json, written by pack.sh from this file, is what the peer reads).
import { BACKBONE_KINDS, type BackboneKind } from '../../libs/arch/src/index.js';

export interface InferenceNetwork {
  key: string;
  name: string;
  form: 'classification' | 'detection';
  /** Classification: the backbone kind (torchvision's model name), its standard blocks. */
  backbone?: BackboneKind;
  /** Detection: the canonical architecture. */
  arch?: string;
  /** WxH. */
  size: string;
  /** Profiled five times on fresh models: the repeatability row. */
  repeat?: boolean;
  /** What the peer builds: torchvision's detector (`retinanet`, `faster`) or the cascade in torch_peer.py. */
  peer?: 'retinanet' | 'faster' | 'cascade';
}

/** The ten networks of the inference goal; on a software adapter, small inputs (a run that checks the bench). */
export function inferenceNetworks(full: boolean): InferenceNetwork[] {
  const cls = full ? '224x224' : '64x64';
  const det = full ? '1344x800' : '64x64';
  const r50 = 'resnet50:64:111-2111-211111-211';
  return [
    ...BACKBONE_KINDS.map((kind) => ({ key: `infer:${kind}`, name: `${kind} (classification) ${cls}`, form: 'classification' as const, backbone: kind, size: cls })),
    { key: 'infer:retinanet-r50-fpn', name: `RetinaNet-R50-FPN ${det}`, form: 'detection', arch: `${r50}/fpn:3-6:256/none/retinanet:256/${det}`, size: det, repeat: true, peer: 'retinanet' },
    { key: 'infer:faster-rcnn-r50-fpn', name: `Faster R-CNN-R50-FPN ${det}`, form: 'detection', arch: `${r50}/fpn:2-6:256/rpn/faster_rcnn:256/${det}`, size: det, peer: 'faster' },
    { key: 'infer:cascade-rcnn-r50-fpn', name: `Cascade R-CNN-R50-FPN x3 ${det}`, form: 'detection', arch: `${r50}/fpn:2-6:256/rpn/cascade_rcnn.3:256/${det}`, size: det, peer: 'cascade' },
  ];
}

export interface TrainingNetwork {
  key: string;
  name: string;
  arch: string;
  /** What the peer trains (bench/learning's GN+WS networks), if it has this one. */
  peer?: 'retinanet' | 'faster';
}

/** The training-step rows at `size` x `size` (ResNet-18 FPN, GN+WS from scratch, as a search trains). */
export function trainingNetworks(size: number): TrainingNetwork[] {
  const r18 = 'resnet18:64:11-21-21-21';
  return [
    { key: 'train:retinanet-r18-fpn', name: 'RetinaNet-R18-FPN', arch: `${r18}/fpn:3-6:256/none/retinanet:256/${size}x${size}`, peer: 'retinanet' },
    { key: 'train:faster-rcnn-r18-fpn', name: 'Faster R-CNN-R18-FPN', arch: `${r18}/fpn:2-6:256/rpn/faster_rcnn:256/${size}x${size}`, peer: 'faster' },
    { key: 'train:cascade-rcnn-r18-fpn', name: 'Cascade R-CNN-R18-FPN x3', arch: `${r18}/fpn:2-6:256/rpn/cascade_rcnn.3:256/${size}x${size}` },
  ];
}

/** The training batch, the same on both sides: three boxes per image, small, medium and large. */
export function trainingBoxes(n: number, size: number): { boxes: number[][]; labels: number[][] } {
  const s = size / 64;
  return {
    boxes: Array.from({ length: n }, (_, i) => [4 * s + i, 6 * s, 30 * s, 34 * s, 20 * s, 16 * s, 60 * s, 62 * s, 40 * s, 4 * s, 52 * s, 14 * s].map(Math.round)),
    labels: Array.from({ length: n }, (_, i) => [i % 3, 2, 1]),
  };
}

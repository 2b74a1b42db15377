import type { BBox } from './types.js';

/**
 * IoU of two `[x, y, w, h]` boxes as pycocotools' `bbIou` (maskApi.c) computes it: no +1, and for
 * a crowd ground truth the union is the detection's area alone (intersection / area(dt)).
 */
export function bboxIou(dt: BBox, gt: BBox, gtIsCrowd = false): number {
  return iouXywh(dt[0]!, dt[1]!, dt[2]!, dt[3]!, gt[0]!, gt[1]!, gt[2]!, gt[3]!, gtIsCrowd);
}

export function iouXywh(
  dx: number, dy: number, dw: number, dh: number,
  gx: number, gy: number, gw: number, gh: number,
  crowd: boolean,
): number {
  // Same operations in the same order as bbIou, so the doubles agree bit for bit.
  const ga = gw * gh;
  const da = dw * dh;
  const w = Math.min(dw + dx, gw + gx) - Math.max(dx, gx);
  if (w <= 0) return 0;
  const h = Math.min(dh + dy, gh + gy) - Math.max(dy, gy);
  if (h <= 0) return 0;
  const i = w * h;
  const u = crowd ? da : da + ga - i;
  return i / u;
}

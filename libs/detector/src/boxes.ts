// Boxes on the host: anchors, IoU, mmdetection's MaxIoUAssigner and DeltaXYWHBBoxCoder. Boxes are
// flat Float32Arrays [x1, y1, x2, y2, ...] in input pixels; widths are x2 - x1 (mmdetection 2.x+,
// no +1).

/** mmdetection RetinaNet anchor generator: octave_base_scale=4, scales_per_octave=3, ratios 0.5/1/2. */
export interface AnchorConfig {
  octaveBaseScale: number;
  scalesPerOctave: number;
  /** h / w. */
  ratios: readonly number[];
}

export const RETINA_ANCHOR_CONFIG: AnchorConfig = { octaveBaseScale: 4, scalesPerOctave: 3, ratios: [0.5, 1, 2] };

/**
 * The A base anchors of one level, centred on (0, 0), in mmdetection's order: ratio-major,
 * scale-minor (`ws = base * w_ratios[:, None] * scales[None, :]`), center_offset 0.
 */
export function baseAnchors(stride: number, config: AnchorConfig = RETINA_ANCHOR_CONFIG): Float32Array {
  const { octaveBaseScale, scalesPerOctave, ratios } = config;
  const out = new Float32Array(ratios.length * scalesPerOctave * 4);
  let o = 0;
  for (const r of ratios) {
    const hRatio = Math.sqrt(r);
    const wRatio = 1 / hRatio;
    for (let s = 0; s < scalesPerOctave; s++) {
      const scale = octaveBaseScale * 2 ** (s / scalesPerOctave);
      const w = stride * wRatio * scale;
      const h = stride * hRatio * scale;
      out[o++] = -0.5 * w;
      out[o++] = -0.5 * h;
      out[o++] = 0.5 * w;
      out[o++] = 0.5 * h;
    }
  }
  return out;
}

export interface FeatureLevel {
  /** Feature level l (stride 2^l). */
  level: number;
  height: number;
  width: number;
}

/**
 * All anchors of the given levels, concatenated in level order; within a level location-major
 * (row, then column) and anchor-minor, the order of an NHWC head output reshaped to [H*W*A, ...].
 * Anchors of level l are centred at (x * 2^l, y * 2^l) (mmdetection's shifts).
 */
export function gridAnchors(levels: readonly FeatureLevel[], config: AnchorConfig = RETINA_ANCHOR_CONFIG): Float32Array {
  const a = config.ratios.length * config.scalesPerOctave;
  let total = 0;
  for (const l of levels) total += l.height * l.width * a;
  const out = new Float32Array(total * 4);
  let o = 0;
  for (const { level, height, width } of levels) {
    const stride = 2 ** level;
    const base = baseAnchors(stride, config);
    for (let y = 0; y < height; y++) {
      const cy = y * stride;
      for (let x = 0; x < width; x++) {
        const cx = x * stride;
        for (let i = 0; i < a * 4; i += 4) {
          out[o++] = base[i]! + cx;
          out[o++] = base[i + 1]! + cy;
          out[o++] = base[i + 2]! + cx;
          out[o++] = base[i + 3]! + cy;
        }
      }
    }
  }
  return out;
}

export function iou(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number): number {
  const ax1 = a[4 * i]!, ay1 = a[4 * i + 1]!, ax2 = a[4 * i + 2]!, ay2 = a[4 * i + 3]!;
  const bx1 = b[4 * j]!, by1 = b[4 * j + 1]!, bx2 = b[4 * j + 2]!, by2 = b[4 * j + 3]!;
  const w = Math.min(ax2, bx2) - Math.max(ax1, bx1);
  const h = Math.min(ay2, by2) - Math.max(ay1, by1);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter;
  return union > 0 ? inter / union : 0;
}

/** mmdetection MaxIoUAssigner settings (RetinaNet's train_cfg). */
export interface AssignerConfig {
  posIouThr: number;
  negIouThr: number;
  minPosIou: number;
}

export const RETINA_ASSIGNER: AssignerConfig = { posIouThr: 0.5, negIouThr: 0.4, minPosIou: 0 };

/**
 * mmdetection MaxIoUAssigner (gt_max_assign_all=True, match_low_quality=True): per anchor -1
 * (ignored), 0 (background) or i + 1 (gt i). Anchors with max IoU < negIouThr are background,
 * >= posIouThr positive for their best gt; then each gt takes every anchor of its highest IoU
 * (ties included, later gts winning) if that IoU >= minPosIou. Unlike mmdetection a gt that
 * overlaps no anchor at all takes none (its max IoU 0 would otherwise claim every anchor).
 */
export function assignAnchors(anchors: Float32Array, gts: ArrayLike<number>, config: AssignerConfig = RETINA_ASSIGNER): Int32Array {
  const n = anchors.length / 4;
  const m = gts.length / 4;
  const assigned = new Int32Array(n);
  if (m === 0) return assigned; // all background
  const maxIou = new Float32Array(n);
  const argmax = new Int32Array(n);
  const gtMax = new Float32Array(m);
  const overlaps = new Float32Array(n * m);
  for (let j = 0; j < m; j++) {
    let best = 0;
    for (let i = 0; i < n; i++) {
      const v = iou(anchors, i, gts, j);
      overlaps[i * m + j] = v;
      if (v > best) best = v;
      if (j === 0 || v > maxIou[i]!) {
        maxIou[i] = v;
        argmax[i] = j;
      }
    }
    gtMax[j] = best;
  }
  for (let i = 0; i < n; i++) {
    const v = maxIou[i]!;
    assigned[i] = v < config.negIouThr ? 0 : v >= config.posIouThr ? argmax[i]! + 1 : -1;
  }
  for (let j = 0; j < m; j++) {
    const best = gtMax[j]!;
    if (best <= 0 || best < config.minPosIou) continue;
    for (let i = 0; i < n; i++) if (overlaps[i * m + j] === best) assigned[i] = j + 1;
  }
  return assigned;
}

/** mmdetection DeltaXYWHBBoxCoder (RetinaNet: means 0, stds 1). */
export interface BoxCoderConfig {
  means: readonly [number, number, number, number];
  stds: readonly [number, number, number, number];
  /** |log| bound on dw, dh when decoding: |log(16 / 1000)|. */
  whRatioClip: number;
}

export const RETINA_BOX_CODER: BoxCoderConfig = { means: [0, 0, 0, 0], stds: [1, 1, 1, 1], whRatioClip: 16 / 1000 };

/** Deltas (dx, dy, dw, dh) taking `anchor` (index i) to `gt` (index j), written at out[4k..]. */
export function encodeBox(
  anchors: ArrayLike<number>, i: number, gts: ArrayLike<number>, j: number, out: Float32Array, k: number,
  config: BoxCoderConfig = RETINA_BOX_CODER,
): void {
  const pw = anchors[4 * i + 2]! - anchors[4 * i]!;
  const ph = anchors[4 * i + 3]! - anchors[4 * i + 1]!;
  const px = anchors[4 * i]! + 0.5 * pw;
  const py = anchors[4 * i + 1]! + 0.5 * ph;
  const gw = gts[4 * j + 2]! - gts[4 * j]!;
  const gh = gts[4 * j + 3]! - gts[4 * j + 1]!;
  const gx = gts[4 * j]! + 0.5 * gw;
  const gy = gts[4 * j + 1]! + 0.5 * gh;
  const { means, stds } = config;
  out[4 * k] = ((gx - px) / pw - means[0]) / stds[0];
  out[4 * k + 1] = ((gy - py) / ph - means[1]) / stds[1];
  out[4 * k + 2] = (Math.log(gw / pw) - means[2]) / stds[2];
  out[4 * k + 3] = (Math.log(gh / ph) - means[3]) / stds[3];
}

/** The box `deltas` (index k) applied to anchor i, clipped to [0, width] x [0, height]; written at out[4o..]. */
export function decodeBox(
  anchors: ArrayLike<number>, i: number, deltas: ArrayLike<number>, k: number, out: Float32Array, o: number,
  width: number, height: number, config: BoxCoderConfig = RETINA_BOX_CODER,
): void {
  const { means, stds } = config;
  const clip = Math.abs(Math.log(config.whRatioClip));
  const dx = deltas[4 * k]! * stds[0] + means[0];
  const dy = deltas[4 * k + 1]! * stds[1] + means[1];
  const dw = Math.min(clip, Math.max(-clip, deltas[4 * k + 2]! * stds[2] + means[2]));
  const dh = Math.min(clip, Math.max(-clip, deltas[4 * k + 3]! * stds[3] + means[3]));
  const pw = anchors[4 * i + 2]! - anchors[4 * i]!;
  const ph = anchors[4 * i + 3]! - anchors[4 * i + 1]!;
  const px = anchors[4 * i]! + 0.5 * pw;
  const py = anchors[4 * i + 1]! + 0.5 * ph;
  const gw = pw * Math.exp(dw);
  const gh = ph * Math.exp(dh);
  const gx = px + pw * dx;
  const gy = py + ph * dy;
  out[4 * o] = Math.min(width, Math.max(0, gx - 0.5 * gw));
  out[4 * o + 1] = Math.min(height, Math.max(0, gy - 0.5 * gh));
  out[4 * o + 2] = Math.min(width, Math.max(0, gx + 0.5 * gw));
  out[4 * o + 3] = Math.min(height, Math.max(0, gy + 0.5 * gh));
}

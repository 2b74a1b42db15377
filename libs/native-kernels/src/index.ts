// Native CPU kernels for float32 NHWC tensors that live in one buffer (the tfjs wasm backend's
// heap), computed in place by a Node-API addon built at install (scripts/build.mjs): oneDNN's
// convolutions (addon.cc), and hand-written loops where oneDNN has nothing or is slower (norm.cc,
// standardize.cc, reduce.cc, roi_align.cc, deform.cc, optim.cc, pool.cc). When the addon is not built, or
// `SM_NAS_NATIVE=0`, `loadNativeKernels` says why and callers keep their own kernels.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const NATIVE_ENV = 'SM_NAS_NATIVE';

/** Float64Array slots of a call's arguments (offsets in float32 elements into the heap). */
export const ConvArg = {
  A: 0, B: 1, C: 2, BIAS: 3,
  N: 4, IH: 5, IW: 6, IC: 7, OH: 8, OW: 9, OC: 10, KH: 11, KW: 12,
  SH: 13, SW: 14, DH: 15, DW: 16, PT: 17, PL: 18, PB: 19, PR: 20, GROUPS: 21, ACT: 22,
} as const;
export const CONV_ARGS = 23;

/**
 * Float64Array slots of the normalisation calls (src/norm.h): offsets in float32 elements, -1 for an
 * absent tensor. The tensor is [N, P, C] with statistics per (n, group of C/G channels): group norm
 * of [n, h, w, c] is N = n, P = h*w; batch norm is N = 1, P = n*h*w, G = c.
 */
export const NormForwardArg = { X: 0, SCALE: 1, OFFSET: 2, Y: 3, MEAN: 4, VARIANCE: 5, N: 6, P: 7, C: 8, G: 9, EPS: 10, RELU: 11 } as const;
export const NORM_FORWARD_ARGS = 12;
export const NormBackwardArg = {
  DY: 0, X: 1, Y: 2, SCALE: 3, MEAN: 4, VARIANCE: 5, DX: 6, DSCALE: 7, DOFFSET: 8, N: 9, P: 10, C: 11, G: 12, EPS: 13,
} as const;
export const NORM_BACKWARD_ARGS = 14;

/** Slots of the weight-standardisation calls: the filter seen as [K, O], statistics per column. */
export const StandardizeForwardArg = { W: 0, Y: 1, MEAN: 2, STD: 3, K: 4, O: 5, EPS: 6 } as const;
export const STANDARDIZE_FORWARD_ARGS = 7;
export const StandardizeBackwardArg = { DY: 0, W: 1, MEAN: 2, STD: 3, DW: 4, K: 5, O: 6, EPS: 7 } as const;
export const STANDARDIZE_BACKWARD_ARGS = 8;

/** Slots of sumMiddle: x seen as [OUTER, MID, INNER], y[o, i] = SCALE * sum over m. */
export const SumArg = { X: 0, Y: 1, OUTER: 2, MID: 3, INNER: 4, SCALE: 5 } as const;
export const SUM_ARGS = 6;

/**
 * Slots of roiAlignForward and roiAlignBackward (multi-level RoIAlign, roi_align.h): ROIS = rois
 * [R, 5] (batch index, x1, y1, x2, y2 in input pixels), LEVELS = int32 [R] the level of each RoI,
 * POOLED = [R, SIZE, SIZE, C] in RoI order (forward: y; backward: dy); then
 * LEVELS_COUNT groups of ROI_ALIGN_LEVEL_ARGS at LEVEL0 (RoiAlignLevelArg: the level's map [N, H, W,
 * C], x forward and dx backward, -1 for none (its RoIs pool zeros; its gradient is skipped); H, W,
 * its spatial scale).
 */
export const RoiAlignArg = { ROIS: 0, LEVELS: 1, POOLED: 2, N: 3, C: 4, R: 5, SIZE: 6, SAMPLING: 7, ALIGNED: 8, LEVELS_COUNT: 9, LEVEL0: 10 } as const;
export const RoiAlignLevelArg = { MAP: 0, H: 1, W: 2, SCALE: 3 } as const;
export const ROI_ALIGN_LEVEL_ARGS = 4;
/** The most levels one call takes (RA_MAX_LEVELS). */
export const ROI_ALIGN_MAX_LEVELS = 8;

/**
 * Slots of deformSampleForward (X = x [N, H, W, C], OFFSET [N, HO, WO, 2 * GROUPS * K²], COLS =
 * columns [N, HO, WO, K², C]) and of the gradients (COLS = the columns' gradient; DX or DOFFSET
 * overwritten); a call ignores the slots it does not use.
 */
export const DeformArg = {
  X: 0, OFFSET: 1, COLS: 2, DX: 3, DOFFSET: 4, N: 5, H: 6, W: 7, C: 8, HO: 9, WO: 10, K: 11, STRIDE: 12, PAD: 13, DILATION: 14, GROUPS: 15,
} as const;
export const DEFORM_ARGS = 16;

/**
 * Slots of adamwStep (src/optim.h): one AdamW step of one tensor, reading P, M, V, G and writing
 * P_OUT, M_OUT, V_OUT; BC1 and BC2 are the bias corrections 1 - beta^t.
 */
export const AdamWArg = {
  P: 0, M: 1, V: 2, G: 3, P_OUT: 4, M_OUT: 5, V_OUT: 6, SIZE: 7, LR: 8, BETA1: 9, BETA2: 10, EPS: 11, WD: 12, GRAD_SCALE: 13, BC1: 14, BC2: 15,
} as const;
export const ADAMW_ARGS = 16;

/** Slots of squaredNorm: OUT (one float32), COUNT, then an (offset, size) pair per tensor from LIST. */
export const SquaredNormArg = { OUT: 0, COUNT: 1, LIST: 2 } as const;

/**
 * Slots of maxPoolGrad (src/pool.h): dx [N, H, W, C] at DX (overwritten) from x at X and dy
 * [N, OH, OW, C] at DY; windows KH x KW, strides SH, SW, padding PT (top), PL (left).
 */
export const MaxPoolGradArg = { X: 0, DY: 1, DX: 2, N: 3, H: 4, W: 5, C: 6, OH: 7, OW: 8, KH: 9, KW: 10, SH: 11, SW: 12, PT: 13, PL: 14 } as const;
export const MAX_POOL_GRAD_ARGS = 15;

/** Fused activation of the forward convolution. */
export const ConvActivation = { none: 0, relu: 1, relu6: 2 } as const;

export interface NativeKernels {
  /** oneDNN's version, e.g. `2.6.3`. */
  readonly version: string;
  /** y[C] = act(conv(x[A], filter[B]) + bias[BIAS]); bias -1 for none. */
  convForward(heap: Uint8Array, args: Float64Array): void;
  /** dx[C] = the input gradient from dy[A] and filter[B]. */
  convBackwardData(heap: Uint8Array, args: Float64Array): void;
  /** dfilter[C] = the filter gradient from x[A] and dy[B]. */
  convBackwardWeights(heap: Uint8Array, args: Float64Array): void;
  /**
   * Training-mode normalisation: y[Y] = relu?(scale * (x - mean) / sqrt(variance + eps) + offset)
   * with the batch statistics written to MEAN and VARIANCE ([N, G], variance biased).
   */
  normForward(heap: Uint8Array, args: Float64Array): void;
  /** dx[DX], dscale[DSCALE], doffset[DOFFSET] of normForward; Y is its output when it fused a ReLU, else -1. */
  normBackward(heap: Uint8Array, args: Float64Array): void;
  /** Weight standardisation (mmcv conv_ws_2d): y[Y] = (w - mean) / (std + eps) per column, std unbiased. */
  standardizeForward(heap: Uint8Array, args: Float64Array): void;
  /** dw[DW] of standardizeForward from dy[DY], w[W] and its MEAN and STD. */
  standardizeBackward(heap: Uint8Array, args: Float64Array): void;
  /** y[Y] = SCALE * the sum of x[X] over its middle axis (Sum / Mean over non-innermost axes). */
  sumMiddle(heap: Uint8Array, args: Float64Array): void;
  /** RoIAlign (mmcv, average pooling) of each RoI at rois[ROIS] from its level's map into y[POOLED]. */
  roiAlignForward(heap: Uint8Array, args: Float64Array): void;
  /** Its gradient: every level's dx (overwritten) from dy[POOLED] and rois[ROIS]. */
  roiAlignBackward(heap: Uint8Array, args: Float64Array): void;
  /** Deformable im2col (mmcv): columns[COLS] sampled from x[X] at the kernel positions moved by offset[OFFSET]. */
  deformSampleForward(heap: Uint8Array, args: Float64Array): void;
  /** Its input gradient: dx[DX] (overwritten) from the columns' gradient at COLS and the offsets. */
  deformSampleInputGrad(heap: Uint8Array, args: Float64Array): void;
  /** Its offsets' gradient: doffset[DOFFSET] (overwritten) from the columns' gradient, x and the offsets. */
  deformSampleOffsetGrad(heap: Uint8Array, args: Float64Array): void;
  /** Max pooling's gradient: each output's dy to the first maximum of its window. */
  maxPoolGrad(heap: Uint8Array, args: Float64Array): void;
  /**
   * One AdamW step (PyTorch's order: decoupled decay, then the Adam update) of one tensor, its
   * gradient scaled by GRAD_SCALE first.
   */
  adamwStep(heap: Uint8Array, args: Float64Array): void;
  /** The sum of squares of every listed tensor, to OUT. */
  squaredNorm(heap: Uint8Array, args: Float64Array): void;
  /** OpenMP threads oneDNN runs on. */
  setThreads(n: number): void;
  threads(): number;
  /** Convolution primitives built so far (one per geometry and direction). */
  cachedPrimitives(): number;
}

export type NativeKernelsLoad = { ok: true; addon: NativeKernels } | { ok: false; reason: string };

const require = createRequire(import.meta.url);
const addonPath = fileURLToPath(new URL('../build/Release/native_kernels.node', import.meta.url));
const statusPath = fileURLToPath(new URL('../build/status.json', import.meta.url));

let loaded: NativeKernelsLoad | undefined;

/** `SM_NAS_NATIVE` set to 0, false, off or no. */
/** Values of `SM_NAS_NATIVE` that turn the native kernels off (case and spaces aside). */
export const NATIVE_OFF_VALUES: readonly string[] = ['0', 'false', 'off', 'no'];

export function nativeDisabled(env: Record<string, string | undefined> = process.env): boolean {
  return NATIVE_OFF_VALUES.includes((env[NATIVE_ENV] ?? '').trim().toLowerCase());
}

/** Loads the addon once; `{ ok: false, reason }` when it is disabled, not built or fails to load. */
export function loadNativeKernels(env: Record<string, string | undefined> = process.env): NativeKernelsLoad {
  if (nativeDisabled(env)) return { ok: false, reason: `${NATIVE_ENV}=${env[NATIVE_ENV]}` };
  loaded ??= load();
  return loaded;
}

function load(): NativeKernelsLoad {
  try {
    return { ok: true, addon: require(addonPath) as NativeKernels };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'MODULE_NOT_FOUND') return { ok: false, reason: `@sm-nas/native-kernels not built: ${buildStatus()}` };
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, reason: `@sm-nas/native-kernels failed to load: ${message.split('\n')[0]}` };
  }
}

function buildStatus(): string {
  try {
    const status = JSON.parse(readFileSync(statusPath, 'utf8')) as { reason?: string };
    return status.reason ?? 'no reason recorded';
  } catch {
    return 'its install script did not run (pnpm install, or pnpm --filter @sm-nas/native-kernels build)';
  }
}

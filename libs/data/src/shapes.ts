// The built-in detection dataset: procedurally drawn shapes on cluttered backgrounds.
// See README.md for what it is for and how the difficulty knobs act.
import { Rng, deriveSeed } from '@sm-nas/random';
import type {
  CocoAnnotation,
  CocoBbox,
  CocoCategory,
  CocoDataset,
  CocoImage,
  DetectionDataset,
  RgbImage,
} from './types.js';

export const SHAPE_CLASSES = ['circle', 'rectangle', 'triangle', 'cross', 'ring', 'star'] as const;
export type ShapeClass = (typeof SHAPE_CLASSES)[number];

/** Hue (degrees) each class is drawn in when the colour cue applies; far apart on the wheel. */
const CLASS_HUE: Record<ShapeClass, number> = {
  circle: 0,
  rectangle: 220,
  triangle: 120,
  cross: 55,
  ring: 295,
  star: 180,
};

export interface ShapesOptions {
  /** Seed of this split; same seed and options → byte-identical images and annotations. Default 0. */
  seed?: number;
  /** Images to generate. Default 1000. */
  numImages?: number;
  /** Square side in pixels, or width and height. Default 128. */
  imageSize?: number | { width: number; height: number };
  /** Classes, in category-id order (ids 1..K). Default all six of SHAPE_CLASSES. */
  classes?: readonly ShapeClass[];
  /** Objects per image, drawn uniformly in [minObjects, maxObjects]. Default 1 and 6. */
  minObjects?: number;
  maxObjects?: number;
  /**
   * Object size (geometric mean of box width and height) as a fraction of the image's short side,
   * log-uniform in this range. Default [1/16, 1/2]: 8..64 px at 128x128.
   */
  sizeRange?: [number, number];
  /** Box aspect ratio width/height, log-uniform in this range. Default [0.5, 2]. */
  aspectRange?: [number, number];
  /** Probability an object is painted in its class's hue (else a random hue). Default 0.8. */
  colorCue?: number;
  /** Distractor strokes (lines and arcs, any colour) per image, uniform in [0, strokes]. Default 4. */
  strokes?: number;
  /** Amplitude of the low-frequency background texture, 0..1. Default 0.35. */
  backgroundContrast?: number;
  /** Per-pixel uniform noise amplitude in 0..255 grey levels (±noise). Default 10. */
  noise?: number;
  /** An object is only placed if no earlier object ends up more hidden than this. Default 0.6. */
  maxOcclusion?: number;
  /** Probability a new object is placed against an existing one (forcing overlap). Default 0.3. */
  overlapProbability?: number;
  /**
   * 'amodal' (default): bbox is the full object box, occluded parts included.
   * 'visible': bbox is the tight box of the visible pixels (what COCO's own annotations give).
   */
  boxMode?: 'amodal' | 'visible';
  /** Prefix of file names (`train_000001.png`). Default 'shapes'. */
  split?: string;
}

type Resolved = Required<Omit<ShapesOptions, 'imageSize'>> & { width: number; height: number };

function resolve(options: ShapesOptions): Resolved {
  const size = options.imageSize ?? 128;
  const width = typeof size === 'number' ? size : size.width;
  const height = typeof size === 'number' ? size : size.height;
  const r: Resolved = {
    seed: options.seed ?? 0,
    numImages: options.numImages ?? 1000,
    width,
    height,
    classes: options.classes ?? SHAPE_CLASSES,
    minObjects: options.minObjects ?? 1,
    maxObjects: options.maxObjects ?? 6,
    sizeRange: options.sizeRange ?? [1 / 16, 1 / 2],
    aspectRange: options.aspectRange ?? [0.5, 2],
    colorCue: options.colorCue ?? 0.8,
    strokes: options.strokes ?? 4,
    backgroundContrast: options.backgroundContrast ?? 0.35,
    noise: options.noise ?? 10,
    maxOcclusion: options.maxOcclusion ?? 0.6,
    overlapProbability: options.overlapProbability ?? 0.3,
    boxMode: options.boxMode ?? 'amodal',
    split: options.split ?? 'shapes',
  };
  const bad = (field: string, why: string): never => {
    throw new RangeError(`shapes option ${field}: ${why}`);
  };
  if (!Number.isInteger(r.width) || r.width < 16) bad('imageSize', `width must be an integer >= 16, got ${r.width}`);
  if (!Number.isInteger(r.height) || r.height < 16) bad('imageSize', `height must be an integer >= 16, got ${r.height}`);
  if (!Number.isInteger(r.numImages) || r.numImages < 0) bad('numImages', `must be an integer >= 0, got ${r.numImages}`);
  if (r.classes.length === 0) bad('classes', 'must not be empty');
  for (const c of r.classes) if (!SHAPE_CLASSES.includes(c)) bad('classes', `unknown class '${c}'`);
  if (new Set(r.classes).size !== r.classes.length) bad('classes', 'must not repeat a class');
  if (!Number.isInteger(r.minObjects) || r.minObjects < 1) bad('minObjects', `must be an integer >= 1, got ${r.minObjects}`);
  if (!Number.isInteger(r.maxObjects) || r.maxObjects < r.minObjects) bad('maxObjects', `must be an integer >= minObjects, got ${r.maxObjects}`);
  const [s0, s1] = r.sizeRange;
  if (!(s0 > 0 && s1 >= s0 && s1 <= 1)) bad('sizeRange', `must satisfy 0 < min <= max <= 1, got [${s0}, ${s1}]`);
  const [a0, a1] = r.aspectRange;
  if (!(a0 > 0 && a1 >= a0)) bad('aspectRange', `must satisfy 0 < min <= max, got [${a0}, ${a1}]`);
  for (const f of ['colorCue', 'backgroundContrast', 'maxOcclusion', 'overlapProbability'] as const) {
    if (!(r[f] >= 0 && r[f] <= 1)) bad(f, `must be in [0, 1], got ${r[f]}`);
  }
  if (!(r.noise >= 0)) bad('noise', `must be >= 0, got ${r.noise}`);
  if (!Number.isInteger(r.strokes) || r.strokes < 0) bad('strokes', `must be an integer >= 0, got ${r.strokes}`);
  return r;
}

/** One placed object of a rendered image, before it becomes a COCO annotation. */
export interface ShapeObject {
  /** Index into the options' classes (category id − 1). */
  classIndex: number;
  /** Full (amodal) tight box of the object's pixels. */
  bbox: CocoBbox;
  /** Tight box of the pixels still visible after later objects were drawn; null if none. */
  visibleBbox: CocoBbox | null;
  /** Object pixels, occluded ones included. */
  pixels: number;
  visiblePixels: number;
}

// ---- geometry ---------------------------------------------------------------------------------

/** Five-point star, 10 vertices, scaled so its extent is exactly [-1, 1]² (x, y interleaved). */
const STAR: Float64Array = (() => {
  const inner = 0.45;
  const pts: number[] = [];
  for (let k = 0; k < 10; k++) {
    const ang = -Math.PI / 2 + (k * Math.PI) / 5;
    const r = k % 2 === 0 ? 1 : inner;
    pts.push(r * Math.cos(ang), r * Math.sin(ang));
  }
  const xs = pts.filter((_, i) => i % 2 === 0);
  const ys = pts.filter((_, i) => i % 2 === 1);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  return Float64Array.from(pts, (v, i) => (i % 2 === 0 ? ((v - x0) / (x1 - x0)) * 2 - 1 : ((v - y0) / (y1 - y0)) * 2 - 1));
})();

function inPolygon(poly: Float64Array, u: number, v: number): boolean {
  let inside = false;
  const n = poly.length / 2;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const xi = poly[2 * i] as number;
    const yi = poly[2 * i + 1] as number;
    const xj = poly[2 * j] as number;
    const yj = poly[2 * j + 1] as number;
    if (yi > v !== yj > v && u < ((xj - xi) * (v - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Membership test in box-normalised coordinates u, v ∈ [-1, 1]; per-object parameters bound. */
function shapeTest(cls: ShapeClass, rng: Rng): (u: number, v: number) => boolean {
  switch (cls) {
    case 'circle':
      return (u, v) => u * u + v * v <= 1;
    case 'rectangle':
      return () => true;
    case 'triangle': {
      // Apex up, down, left or right.
      const o = rng.range(0, 3);
      return (u, v) => {
        const a = o < 2 ? u : v;
        const b = o % 2 === 0 ? (o < 2 ? v : u) : -(o < 2 ? v : u);
        return Math.abs(a) <= (b + 1) / 2;
      };
    }
    case 'cross': {
      const t = rng.uniform(0.22, 0.4);
      return (u, v) => Math.abs(u) <= t || Math.abs(v) <= t;
    }
    case 'ring': {
      const inner = rng.uniform(0.45, 0.7);
      const i2 = inner * inner;
      return (u, v) => {
        const r2 = u * u + v * v;
        return r2 <= 1 && r2 >= i2;
      };
    }
    case 'star':
      return (u, v) => inPolygon(STAR, u, v);
  }
}

function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const hh = (((h % 360) + 360) % 360) / 60;
  const c = v * s;
  const x = c * (1 - Math.abs((hh % 2) - 1));
  const m = v - c;
  const [r, g, b] =
    hh < 1 ? [c, x, 0] : hh < 2 ? [x, c, 0] : hh < 3 ? [0, c, x] : hh < 4 ? [0, x, c] : hh < 5 ? [x, 0, c] : [c, 0, x];
  return [(r + m) * 255, (g + m) * 255, (b + m) * 255];
}

// ---- rendering --------------------------------------------------------------------------------

interface Placed {
  x0: number;
  y0: number;
  w: number;
  h: number;
  mask: Uint8Array;
  pixels: number;
  visible: number;
  classIndex: number;
  /** Tight amodal box. */
  bbox: CocoBbox;
}

function drawBackground(canvas: Float32Array, W: number, H: number, r: Resolved, rng: Rng): void {
  const c0 = hsvToRgb(rng.uniform(0, 360), rng.uniform(0, 0.25), rng.uniform(0.2, 0.85));
  const c1 = hsvToRgb(rng.uniform(0, 360), rng.uniform(0, 0.25), rng.uniform(0.2, 0.85));
  const ang = rng.uniform(0, 2 * Math.PI);
  const gx = Math.cos(ang) / Math.hypot(W, H);
  const gy = Math.sin(ang) / Math.hypot(W, H);
  // Value noise: a coarse grid of random colours, bilinearly upsampled.
  const cells = rng.range(3, 7);
  const nodes = (cells + 1) * (cells + 1);
  const grid = new Float32Array(nodes * 3);
  const amp = r.backgroundContrast * 127;
  for (let i = 0; i < nodes; i++) {
    const common = rng.uniform(-1, 1);
    for (let c = 0; c < 3; c++) grid[i * 3 + c] = amp * (common + 0.3 * rng.uniform(-1, 1));
  }
  // Per column: left grid node and weight; per row: the two grid rows blended once.
  const ixs = new Int32Array(W);
  const txs = new Float32Array(W);
  for (let x = 0; x < W; x++) {
    const fx = ((x + 0.5) / W) * cells;
    const ix = Math.min(cells - 1, Math.floor(fx));
    ixs[x] = ix * 3;
    txs[x] = fx - ix;
  }
  const row = new Float32Array((cells + 1) * 3);
  const [r0, g0, b0] = c0;
  const [dr, dg, db] = [c1[0] - r0, c1[1] - g0, c1[2] - b0];
  for (let y = 0; y < H; y++) {
    const fy = ((y + 0.5) / H) * cells;
    const iy = Math.min(cells - 1, Math.floor(fy));
    const ty = fy - iy;
    const top = iy * (cells + 1) * 3;
    const bot = top + (cells + 1) * 3;
    for (let k = 0; k < row.length; k++) {
      row[k] = (grid[top + k] as number) * (1 - ty) + (grid[bot + k] as number) * ty;
    }
    const t0 = 0.5 - (W / 2) * gx + (y - H / 2) * gy;
    let o = y * W * 3;
    for (let x = 0; x < W; x++, o += 3) {
      const t = t0 + x * gx;
      const n = ixs[x] as number;
      const tx = txs[x] as number;
      canvas[o] = r0 + dr * t + (row[n] as number) * (1 - tx) + (row[n + 3] as number) * tx;
      canvas[o + 1] = g0 + dg * t + (row[n + 1] as number) * (1 - tx) + (row[n + 4] as number) * tx;
      canvas[o + 2] = b0 + db * t + (row[n + 2] as number) * (1 - tx) + (row[n + 5] as number) * tx;
    }
  }
}

/** Lines and arcs in arbitrary colours: clutter that is not an object. Anti-aliased by coverage. */
function drawStrokes(canvas: Float32Array, W: number, H: number, r: Resolved, rng: Rng): void {
  const n = rng.range(0, r.strokes);
  const side = Math.min(W, H);
  for (let s = 0; s < n; s++) {
    const col = hsvToRgb(rng.uniform(0, 360), rng.uniform(0, 1), rng.uniform(0.3, 1));
    const half = rng.uniform(0.5, 1.5);
    let dist: (x: number, y: number) => number;
    let bx0: number, by0: number, bx1: number, by1: number;
    if (rng.chance(0.5)) {
      const ax = rng.uniform(0, W);
      const ay = rng.uniform(0, H);
      const len = rng.uniform(0.15, 0.6) * side;
      const a = rng.uniform(0, 2 * Math.PI);
      const ex = ax + len * Math.cos(a);
      const ey = ay + len * Math.sin(a);
      const dx = ex - ax;
      const dy = ey - ay;
      const l2 = dx * dx + dy * dy;
      dist = (x, y) => {
        const t = Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / l2));
        return Math.hypot(x - ax - t * dx, y - ay - t * dy);
      };
      [bx0, bx1, by0, by1] = [Math.min(ax, ex), Math.max(ax, ex), Math.min(ay, ey), Math.max(ay, ey)];
    } else {
      const ox = rng.uniform(0, W);
      const oy = rng.uniform(0, H);
      const rad = rng.uniform(0.05, 0.25) * side;
      const start = rng.uniform(0, 2 * Math.PI);
      const sweep = rng.uniform(Math.PI / 3, (4 * Math.PI) / 3);
      dist = (x, y) => {
        // The full circle is never farther than the arc: skip atan2 away from it.
        const dc = Math.abs(Math.hypot(x - ox, y - oy) - rad);
        if (dc > half + 0.5) return dc;
        let a = Math.atan2(y - oy, x - ox) - start;
        a = ((a % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI);
        if (a <= sweep) return dc;
        const e0x = ox + rad * Math.cos(start);
        const e0y = oy + rad * Math.sin(start);
        const e1x = ox + rad * Math.cos(start + sweep);
        const e1y = oy + rad * Math.sin(start + sweep);
        return Math.min(Math.hypot(x - e0x, y - e0y), Math.hypot(x - e1x, y - e1y));
      };
      [bx0, bx1, by0, by1] = [ox - rad, ox + rad, oy - rad, oy + rad];
    }
    const xa = Math.max(0, Math.floor(bx0 - half - 1));
    const xb = Math.min(W - 1, Math.ceil(bx1 + half + 1));
    const ya = Math.max(0, Math.floor(by0 - half - 1));
    const yb = Math.min(H - 1, Math.ceil(by1 + half + 1));
    for (let y = ya; y <= yb; y++) {
      for (let x = xa; x <= xb; x++) {
        const cov = Math.min(1, half + 0.5 - dist(x + 0.5, y + 0.5));
        if (cov <= 0) continue;
        const o = (y * W + x) * 3;
        for (let c = 0; c < 3; c++) canvas[o + c] = (canvas[o + c] as number) * (1 - cov) + (col[c] as number) * cov;
      }
    }
  }
}

/**
 * Per-pixel brightness factor of an object: one of five textures (solid, stripes, checker, shading,
 * speckle). (i, j) are pixels from the object's box corner, (u, v) the same in [-1, 1]².
 */
function objectTexture(rng: Rng): (i: number, j: number, u: number, v: number) => number {
  switch (rng.range(0, 4)) {
    case 0:
      return () => 1;
    case 1: {
      const a = rng.uniform(0, Math.PI);
      const ca = Math.cos(a);
      const sa = Math.sin(a);
      const period = rng.uniform(3, 8);
      return (i, j) => ((((i * ca + j * sa) / period) % 2) + 2) % 2 < 1 ? 1 : 0.6;
    }
    case 2: {
      const cell = rng.range(2, 5);
      return (i, j) => ((Math.floor(i / cell) + Math.floor(j / cell)) % 2 === 0 ? 1 : 0.65);
    }
    case 3: {
      const a = rng.uniform(0, 2 * Math.PI);
      const ca = 0.25 * Math.cos(a);
      const sa = 0.25 * Math.sin(a);
      return (_i, _j, u, v) => 0.85 + u * ca + v * sa;
    }
    default: {
      // Its own stream, so the object's other draws do not depend on its pixel count.
      const speckle = Rng.mulberry32(rng.nextUint32());
      return () => 0.75 + 0.4 * speckle.float();
    }
  }
}

/** Render image `index` of the split described by `options`. Independent of every other index. */
export function renderShapesImage(options: ShapesOptions, index: number): { image: RgbImage; objects: ShapeObject[] } {
  return renderResolved(resolve(options), index);
}

function renderResolved(r: Resolved, index: number): { image: RgbImage; objects: ShapeObject[] } {
  const W = r.width;
  const H = r.height;
  const rng = Rng.mulberry32(deriveSeed(r.seed, index));
  const canvas = new Float32Array(W * H * 3);
  drawBackground(canvas, W, H, r, rng);
  drawStrokes(canvas, W, H, r, rng);

  const owner = new Int16Array(W * H).fill(-1);
  const placed: Placed[] = [];
  const side = Math.min(W, H);
  const want = rng.range(r.minObjects, r.maxObjects);
  for (let k = 0; k < want; k++) {
    const classIndex = rng.range(0, r.classes.length - 1);
    const cls = r.classes[classIndex] as ShapeClass;
    const size = rng.logUniform(r.sizeRange[0] * side, r.sizeRange[1] * side);
    const aspect = rng.logUniform(r.aspectRange[0], r.aspectRange[1]);
    const w = Math.max(3, Math.min(W, Math.round(size * Math.sqrt(aspect))));
    const h = Math.max(3, Math.min(H, Math.round(size / Math.sqrt(aspect))));
    const test = shapeTest(cls, rng);
    const cue = rng.chance(r.colorCue);
    const base = cue
      ? hsvToRgb(CLASS_HUE[cls] + rng.uniform(-15, 15), rng.uniform(0.6, 1), rng.uniform(0.6, 1))
      : hsvToRgb(rng.uniform(0, 360), rng.uniform(0.5, 1), rng.uniform(0.5, 1));
    const texture = objectTexture(rng);
    // The mask is the same wherever the object lands.
    const mask = new Uint8Array(w * h);
    let pixels = 0;
    let mx0 = w, my0 = h, mx1 = -1, my1 = -1;
    for (let j = 0; j < h; j++) {
      const v = ((j + 0.5) / h) * 2 - 1;
      for (let i = 0; i < w; i++) {
        if (test(((i + 0.5) / w) * 2 - 1, v)) {
          mask[j * w + i] = 1;
          pixels++;
          if (i < mx0) mx0 = i;
          if (i > mx1) mx1 = i;
          if (j < my0) my0 = j;
          if (j > my1) my1 = j;
        }
      }
    }
    if (pixels === 0) continue;

    let accepted: { x0: number; y0: number; hits: Map<number, number> } | null = null;
    for (let attempt = 0; attempt < 12 && !accepted; attempt++) {
      let x0: number;
      let y0: number;
      const near = placed.length > 0 && rng.chance(r.overlapProbability) ? rng.pick(placed) : null;
      if (near) {
        // Centre within the other box grown by half this one: the two boxes overlap.
        x0 = Math.round(near.x0 + near.w / 2 + rng.uniform(-0.5, 0.5) * (near.w + w) - w / 2);
        y0 = Math.round(near.y0 + near.h / 2 + rng.uniform(-0.5, 0.5) * (near.h + h) - h / 2);
      } else {
        x0 = rng.range(0, W - w);
        y0 = rng.range(0, H - h);
      }
      x0 = Math.max(0, Math.min(W - w, x0));
      y0 = Math.max(0, Math.min(H - h, y0));
      const hits = new Map<number, number>();
      for (let j = 0; j < h; j++) {
        for (let i = 0; i < w; i++) {
          if (!mask[j * w + i]) continue;
          const o = owner[(y0 + j) * W + x0 + i] as number;
          if (o >= 0) hits.set(o, (hits.get(o) ?? 0) + 1);
        }
      }
      let ok = true;
      for (const [o, n] of hits) {
        const p = placed[o] as Placed;
        if (p.visible - n < (1 - r.maxOcclusion) * p.pixels) ok = false;
      }
      if (ok) accepted = { x0, y0, hits };
    }
    if (!accepted) continue;
    const { x0, y0, hits } = accepted;
    const id = placed.length;
    for (const [o, n] of hits) (placed[o] as Placed).visible -= n;
    for (let j = 0; j < h; j++) {
      for (let i = 0; i < w; i++) {
        if (!mask[j * w + i]) continue;
        const x = x0 + i;
        const y = y0 + j;
        owner[y * W + x] = id;
        const f = texture(i, j, ((i + 0.5) / w) * 2 - 1, ((j + 0.5) / h) * 2 - 1);
        const o = (y * W + x) * 3;
        canvas[o] = base[0] * f;
        canvas[o + 1] = base[1] * f;
        canvas[o + 2] = base[2] * f;
      }
    }
    placed.push({
      x0,
      y0,
      w,
      h,
      mask,
      pixels,
      visible: pixels,
      classIndex,
      bbox: [x0 + mx0, y0 + my0, mx1 - mx0 + 1, my1 - my0 + 1],
    });
  }

  // Quantise with per-pixel uniform noise: one 32-bit draw gives three channels (a byte each).
  // Uint8ClampedArray clamps to 0..255 and rounds half to even on store.
  const out = new Uint8ClampedArray(W * H * 3);
  if (r.noise > 0) {
    const scale = (2 * r.noise) / 255;
    const off = 127.5 * scale;
    // Its own stream, seeded from the image stream.
    const noise = Rng.mulberry32(rng.nextUint32());
    for (let p = 0, o = 0; p < W * H; p++, o += 3) {
      const bits = noise.nextUint32();
      out[o] = (canvas[o] as number) + (bits & 0xff) * scale - off;
      out[o + 1] = (canvas[o + 1] as number) + ((bits >>> 8) & 0xff) * scale - off;
      out[o + 2] = (canvas[o + 2] as number) + ((bits >>> 16) & 0xff) * scale - off;
    }
  } else {
    out.set(canvas);
  }
  const data = new Uint8Array(out.buffer);

  // Visible boxes from the final owner map.
  const vis = placed.map(() => [Infinity, Infinity, -1, -1] as [number, number, number, number]);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const o = owner[y * W + x] as number;
      if (o < 0) continue;
      const b = vis[o] as [number, number, number, number];
      if (x < b[0]) b[0] = x;
      if (y < b[1]) b[1] = y;
      if (x > b[2]) b[2] = x;
      if (y > b[3]) b[3] = y;
    }
  }
  const objects: ShapeObject[] = placed.map((p, i) => {
    const b = vis[i] as [number, number, number, number];
    return {
      classIndex: p.classIndex,
      bbox: p.bbox,
      visibleBbox: b[2] < 0 ? null : [b[0], b[1], b[2] - b[0] + 1, b[3] - b[1] + 1],
      pixels: p.pixels,
      visiblePixels: p.visible,
    };
  });
  return { image: { width: W, height: H, data }, objects };
}

/** The built-in dataset held in memory: images aligned with `coco.images`. */
export interface ShapesDataset extends DetectionDataset {
  readonly images: readonly RgbImage[];
}

export function shapesCategories(classes: readonly ShapeClass[] = SHAPE_CLASSES): CocoCategory[] {
  return classes.map((name, i) => ({ id: i + 1, name, supercategory: 'shape' }));
}

/**
 * Generate one split of the built-in dataset. Image ids are 1..numImages, annotation ids run from 1
 * in image order, category ids are 1..K in `classes` order. Deterministic in (options).
 */
export function generateShapes(options: ShapesOptions = {}): ShapesDataset {
  const r = resolve(options);
  const images: RgbImage[] = [];
  const cocoImages: CocoImage[] = [];
  const annotations: CocoAnnotation[] = [];
  for (let i = 0; i < r.numImages; i++) {
    const { image, objects } = renderResolved(r, i);
    const imageId = i + 1;
    images.push(image);
    cocoImages.push({ id: imageId, file_name: `${r.split}_${String(imageId).padStart(6, '0')}.png`, width: r.width, height: r.height });
    for (const o of objects) {
      if (!o.visibleBbox) continue; // cannot happen with maxOcclusion < 1; kept for maxOcclusion = 1
      annotations.push({
        id: annotations.length + 1,
        image_id: imageId,
        category_id: o.classIndex + 1,
        bbox: r.boxMode === 'amodal' ? o.bbox : o.visibleBbox,
        area: o.visiblePixels,
        iscrowd: 0,
        occlusion: Math.round((1 - o.visiblePixels / o.pixels) * 1e4) / 1e4,
        visible_bbox: o.visibleBbox,
      });
    }
  }
  const { seed, numImages, width, height, classes, split, ...knobs } = r;
  const coco: CocoDataset = {
    info: {
      description: 'sm-nas built-in synthetic shapes detection set',
      generator: '@sm-nas/data shapes v1 (mulberry32)',
      split,
      seed,
      num_images: numImages,
      width,
      height,
      options: knobs,
    },
    images: cocoImages,
    annotations,
    categories: shapesCategories(classes),
  };
  const byId = new Map(cocoImages.map((im, i) => [im.id, images[i] as RgbImage]));
  return {
    coco,
    images,
    readImage(imageId: number): RgbImage {
      const im = byId.get(imageId);
      if (!im) throw new RangeError(`no image with id ${imageId}`);
      return im;
    },
  };
}

/**
 * Train and val splits whose seeds are derived independently from one master seed
 * (`deriveSeed(seed, 'train')`, `deriveSeed(seed, 'val')`), so no val image repeats a train image.
 */
export function generateShapesSplits(
  options: Omit<ShapesOptions, 'numImages' | 'split'> & { trainImages?: number; valImages?: number } = {},
): { train: ShapesDataset; val: ShapesDataset } {
  const { trainImages = 1000, valImages = 200, seed = 0, ...rest } = options;
  return {
    train: generateShapes({ ...rest, seed: deriveSeed(seed, 'train'), numImages: trainImages, split: 'train' }),
    val: generateShapes({ ...rest, seed: deriveSeed(seed, 'val'), numImages: valImages, split: 'val' }),
  };
}

/**
 * Named difficulty settings (spread into `generateShapes({ ...SHAPES_PRESETS.demo, seed })`).
 * - `demo`: 64x64, few, mid-sized, strongly colour-coded objects, light clutter — a from-scratch
 *   detector on 2 CPU cores gets well off the floor in a few epochs, so candidates can be ranked
 *   in minutes.
 * - `standard`: the defaults (128x128, 1–6 objects of 8–64 px, moderate clutter and occlusion).
 * - `hard`: weak colour cue (shape must be learnt), tiny objects, dense clutter and occlusion.
 */
export const SHAPES_PRESETS = {
  demo: {
    imageSize: 64,
    maxObjects: 3,
    sizeRange: [1 / 6, 1 / 2],
    aspectRange: [2 / 3, 3 / 2],
    colorCue: 0.9,
    strokes: 2,
    backgroundContrast: 0.25,
    noise: 6,
    maxOcclusion: 0.4,
    overlapProbability: 0.15,
  },
  standard: {},
  hard: {
    maxObjects: 10,
    sizeRange: [1 / 20, 1 / 2],
    aspectRange: [1 / 3, 3],
    colorCue: 0.3,
    strokes: 8,
    backgroundContrast: 0.5,
    noise: 16,
    maxOcclusion: 0.7,
    overlapProbability: 0.5,
  },
} as const satisfies Record<string, ShapesOptions>;

// The addon against a direct loop (the convolution's definition), on a plain and on a shared heap.
import { describe, expect, it } from 'vitest';
import { CONV_ARGS, ConvActivation, ConvArg, loadNativeKernels } from './index.js';

interface Geo {
  n: number; ih: number; iw: number; ic: number; oc: number; kh: number; kw: number;
  s: number; d: number; pt: number; pl: number; pb: number; pr: number; groups: number;
}

const out = (g: Geo) => [
  Math.floor((g.ih + g.pt + g.pb - (g.d * (g.kh - 1) + 1)) / g.s) + 1,
  Math.floor((g.iw + g.pl + g.pr - (g.d * (g.kw - 1) + 1)) / g.s) + 1,
] as const;

/** Calls f(yIndex, xIndex, wIndex) for every product of the convolution (NHWC, filter [kh, kw, ic/g, oc]). */
function forEachTap(g: Geo, f: (y: number, x: number, w: number) => void): void {
  const [oh, ow] = out(g);
  const cig = g.ic / g.groups, cog = g.oc / g.groups;
  for (let n = 0; n < g.n; n++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) for (let o = 0; o < g.oc; o++) {
    const grp = Math.floor(o / cog);
    for (let a = 0; a < g.kh; a++) for (let b = 0; b < g.kw; b++) {
      const y = i * g.s - g.pt + a * g.d, x = j * g.s - g.pl + b * g.d;
      if (y < 0 || y >= g.ih || x < 0 || x >= g.iw) continue;
      for (let c = 0; c < cig; c++) {
        f(((n * oh + i) * ow + j) * g.oc + o, ((n * g.ih + y) * g.iw + x) * g.ic + grp * cig + c, ((a * g.kw + b) * cig + c) * g.oc + o);
      }
    }
  }
}

function random(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const r = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    r[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return r;
}

function expectClose(actual: Float32Array, expected: Float32Array, what: string): void {
  let scale = 1e-6, worst = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  expect(worst / scale, what).toBeLessThan(1e-5);
}

const cases: Geo[] = [
  { n: 2, ih: 9, iw: 8, ic: 3, oc: 4, kh: 3, kw: 3, s: 1, d: 1, pt: 1, pl: 1, pb: 1, pr: 1, groups: 1 },
  { n: 2, ih: 10, iw: 9, ic: 3, oc: 2, kh: 3, kw: 3, s: 2, d: 1, pt: 0, pl: 1, pb: 1, pr: 0, groups: 1 },
  { n: 1, ih: 11, iw: 12, ic: 2, oc: 3, kh: 5, kw: 3, s: 3, d: 1, pt: 2, pl: 0, pb: 0, pr: 2, groups: 1 },
  { n: 2, ih: 8, iw: 8, ic: 8, oc: 12, kh: 3, kw: 3, s: 2, d: 1, pt: 0, pl: 0, pb: 1, pr: 1, groups: 4 },
  { n: 2, ih: 8, iw: 8, ic: 4, oc: 6, kh: 1, kw: 1, s: 2, d: 1, pt: 0, pl: 0, pb: 0, pr: 0, groups: 1 },
  { n: 2, ih: 9, iw: 9, ic: 4, oc: 6, kh: 1, kw: 1, s: 2, d: 1, pt: 0, pl: 0, pb: 0, pr: 0, groups: 1 },
  { n: 2, ih: 9, iw: 9, ic: 4, oc: 8, kh: 3, kw: 3, s: 1, d: 2, pt: 2, pl: 2, pb: 2, pr: 2, groups: 4 },
];

const dnn = loadNativeKernels();

describe.skipIf(!dnn.ok)('oneDNN addon matches the direct loop', () => {
  const addon = dnn.ok ? dnn.addon : undefined!;
  for (const shared of [false, true]) {
    for (const g of cases) {
      it(`${shared ? 'shared heap, ' : ''}${JSON.stringify(g)}`, () => {
        const [oh, ow] = out(g);
        const sizes = { x: g.n * g.ih * g.iw * g.ic, w: g.kh * g.kw * (g.ic / g.groups) * g.oc, y: g.n * oh * ow * g.oc };
        // heap layout (floats): x | w | bias | dy | y | dx | dw, 16 floats apart
        const offs: number[] = [];
        let at = 16;
        for (const size of [sizes.x, sizes.w, g.oc, sizes.y, sizes.y, sizes.x, sizes.w]) { offs.push(at); at += size + 16; }
        const [xO, wO, bO, dyO, yO, dxO, dwO] = offs as [number, number, number, number, number, number, number];
        const buffer = shared ? new SharedArrayBuffer(at * 4) : new ArrayBuffer(at * 4);
        const heapF = new Float32Array(buffer);
        const [x, w, bias, dy] = [random(sizes.x, 1), random(sizes.w, 2), random(g.oc, 3), random(sizes.y, 4)];
        heapF.set(x, xO); heapF.set(w, wO); heapF.set(bias, bO); heapF.set(dy, dyO);
        const geo = [g.n, g.ih, g.iw, g.ic, oh, ow, g.oc, g.kh, g.kw, g.s, g.s, g.d, g.d, g.pt, g.pl, g.pb, g.pr, g.groups];
        const args = (a: number, b: number, c: number, bi = -1, act = 0) => {
          const v = new Float64Array(CONV_ARGS);
          v.set([a, b, c, bi, ...geo, act]);
          expect(v[ConvArg.GROUPS]).toBe(g.groups);
          return v;
        };
        const heap = new Uint8Array(buffer);
        addon.convForward(heap, args(xO, wO, yO, bO, ConvActivation.relu));
        addon.convBackwardData(heap, args(dyO, wO, dxO));
        addon.convBackwardWeights(heap, args(xO, dyO, dwO));

        const y = new Float32Array(sizes.y), dx = new Float32Array(sizes.x), dw = new Float32Array(sizes.w);
        forEachTap(g, (yi, xi, wi) => {
          y[yi]! += x[xi]! * w[wi]!;
          dx[xi]! += dy[yi]! * w[wi]!;
          dw[wi]! += dy[yi]! * x[xi]!;
        });
        for (let i = 0; i < y.length; i++) y[i] = Math.max(0, y[i]! + bias[i % g.oc]!);
        expectClose(heapF.subarray(yO, yO + sizes.y), y, 'y');
        expectClose(heapF.subarray(dxO, dxO + sizes.x), dx, 'dx');
        expectClose(heapF.subarray(dwO, dwO + sizes.w), dw, 'dw');
        expect(heapF[dwO + sizes.w], 'writes stay inside the output').toBe(0);
      });
    }
  }
});

describe('loadNativeKernels', () => {
  it('reports SM_NAS_NATIVE=0 as the reason', () => {
    expect(loadNativeKernels({ SM_NAS_NATIVE: '0' })).toEqual({ ok: false, reason: 'SM_NAS_NATIVE=0' });
  });
  it('loads, or says why not', () => {
    const r = loadNativeKernels({});
    if (r.ok) expect(r.addon.version).toMatch(/^\d+\.\d+\.\d+$/);
    else expect(r.reason).toMatch(/native-kernels/);
  });
});

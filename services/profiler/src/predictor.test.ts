// The latency predictor on synthetic measurements whose true law is known: the fit recovers it,
// identical modules are looked up, and the held-out rank correlation tells good from useless.
import { parseCanonical } from '@sm-nas/arch';
import { describe, expect, it } from 'vitest';
import { fitLinear, heldOutSpearman, LatencyModel, MIN_PREDICTOR_MEASUREMENTS, moduleFeatures, type Sample } from './predictor.js';
import { spearman } from './stats.js';

const ARCHS = [
  'resnet18:64:11-21-21-21/fpn:3-6:256/none/retinanet:256/512x512',
  'resnet34:64:111-2111-211111-211/fpn:3-6:256/none/retinanet:256/512x512',
  'resnet50:64:111-2111-211111-211/fpn:3-6:256/none/retinanet:256/512x512',
  'resnet18:64:11-21-21-21/fpn:3-6:128/none/retinanet:128/800x600',
  'mobilenet_v2:64:11-211-2111-21/fpn:3-6:128/none/retinanet:128/512x512',
  'resnet18:48:11-21-21-21/fpn:2-6:256/none/retinanet:256/512x512',
  'resnet50:64:111-2111-211111-211/fpn:3-5:256/none/retinanet:256/1333x800',
  'resnet34:56:111-2111-211111-211/fpn:3-6:512/none/retinanet:128/800x600',
];

/** A device whose module time is 3 ms per GMAC + 0.5 ms per M elements + 1 ms, plus noise. */
function samples(noise: (i: number) => number): Sample[] {
  return ARCHS.map((text, i) => {
    const features = moduleFeatures(parseCanonical(text), 1);
    const modules = new Map([...features].map(([name, f]) => [name, (3 * f.gmacs + 0.5 * f.melements + 1) * noise(i)]));
    return { key: text, features, modules, latencyMs: [...modules.values()].reduce((s, x) => s + x, 0) };
  });
}

describe('latency predictor', () => {
  it('fits a known linear law', () => {
    const xs: [number, number][] = [[1, 0], [2, 1], [3, 5], [4, 2], [0, 3]];
    const [a, b, c] = fitLinear(xs, xs.map(([x1, x2]) => 2 * x1 - 0.5 * x2 + 4));
    expect(a).toBeCloseTo(2, 4);
    expect(b).toBeCloseTo(-0.5, 4);
    expect(c).toBeCloseTo(4, 4);
  });

  it('groups features by module and tells modules apart by their layers', () => {
    const f = moduleFeatures(parseCanonical(ARCHS[0]!), 1);
    expect([...f.keys()]).toEqual(['backbone', 'neck', 'head', 'postprocess']);
    const g = moduleFeatures(parseCanonical(ARCHS[5]!), 1);
    expect(g.get('backbone')!.fingerprint).not.toBe(f.get('backbone')!.fingerprint);
    // Same backbone at the same input and batch: the same fingerprint, whatever follows it.
    const h = moduleFeatures(parseCanonical('resnet18:64:11-21-21-21/fpn:3-6:128/none/retinanet:128/512x512'), 1);
    expect(h.get('backbone')!.fingerprint).toBe(f.get('backbone')!.fingerprint);
    expect(moduleFeatures(parseCanonical(ARCHS[0]!), 2).get('backbone')!.gmacs).toBeCloseTo(2 * f.get('backbone')!.gmacs, 9);
  });

  it('looks up a measured module and predicts unseen ones from the fit', () => {
    const train = samples(() => 1);
    const model = new LatencyModel(train.slice(1));
    const seen = model.predict(train[1]!.features);
    expect(seen.modules.every((m) => m.lookedUp)).toBe(true);
    expect(seen.totalMs).toBeCloseTo(train[1]!.latencyMs, 6);
    const unseen = model.predict(train[0]!.features);
    expect(unseen.modules.find((m) => m.name === 'neck')!.lookedUp).toBe(false);
    expect(unseen.totalMs / train[0]!.latencyMs).toBeGreaterThan(0.8);
    expect(unseen.totalMs / train[0]!.latencyMs).toBeLessThan(1.25);
  });

  it('reports a high held-out Spearman when the law holds and a low one when it does not', () => {
    expect(heldOutSpearman(samples((i) => 1 + 0.02 * Math.sin(i)))).toBeGreaterThan(0.9);
    // Latencies scrambled against the features: a permutation that reverses the true order.
    const good = samples(() => 1);
    const order = good.map((s) => s.latencyMs).sort((a, b) => b - a);
    const byRank = [...good].sort((a, b) => a.latencyMs - b.latencyMs);
    const scrambled = byRank.map((s, i) => {
      const scale = order[i]! / s.latencyMs;
      return { ...s, latencyMs: order[i]!, modules: new Map([...s.modules].map(([k, v]) => [k, v * scale])) };
    });
    expect(heldOutSpearman(scrambled)).toBeLessThan(0.5);
  });

  it(`reports no held-out Spearman (NaN) below ${MIN_PREDICTOR_MEASUREMENTS} measurements`, () => {
    const good = samples(() => 1);
    for (let n = 2; n < MIN_PREDICTOR_MEASUREMENTS; n++) expect(Number.isNaN(heldOutSpearman(good.slice(0, n))), String(n)).toBe(true);
    expect(Number.isNaN(heldOutSpearman(good.slice(0, MIN_PREDICTOR_MEASUREMENTS)))).toBe(false);
  });

  it(`sets the minimum where a perfect ranking first beats chance at 5% (two-sided), counting permutations`, () => {
    // The exact null distribution of Spearman's rho over all n! orderings: P(|rho| = 1) = 2 / n!.
    const chanceOfPerfect = (n: number) => {
      const perms = (xs: number[]): number[][] => (xs.length <= 1 ? [xs] : xs.flatMap((x, i) => perms([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p])));
      const identity = Array.from({ length: n }, (_, i) => i);
      const all = perms(identity);
      return all.filter((p) => Math.abs(spearman(identity, p)) === 1).length / all.length;
    };
    expect(chanceOfPerfect(MIN_PREDICTOR_MEASUREMENTS - 1)).toBeGreaterThan(0.05);
    expect(chanceOfPerfect(MIN_PREDICTOR_MEASUREMENTS)).toBeLessThan(0.05);
  });
});

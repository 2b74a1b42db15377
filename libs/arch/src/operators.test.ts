// Sampling, mutation and crossover: deterministic, valid, and doing what their names say.
import { describe, expect, it } from 'vitest';
import type { Architecture } from './architecture.js';
import { STANDARD_BLOCKS } from './defaults.js';
import { architectureId, parseCanonical, toCanonical } from './canonical.js';
import { crossoverArchitectures } from './crossover.js';
import { ArchValidationError } from './errors.js';
import { mutateArchitecture } from './mutate.js';
import { sampleArchitectures } from './sample.js';
import { structuralSpaceSize } from './space.js';
import { structureKey } from './structure.js';
import { validateArchitecture } from './validate.js';

const r101 = parseCanonical(`resnet101:64:${STANDARD_BLOCKS.resnet101}/fpn:2-6:256/rpn/cascade_rcnn.3:256/1333x800`);
const mbv2 = parseCanonical('mobilenet_v2:64:21-211-2111211-2112/c4/none/retinanet:256/512x512');

const structuralGenes = (a: Architecture) => ({
  backbone: a.backbone.kind,
  neck: a.neck.kind === 'fpn' ? `fpn:${a.neck.startLevel}-${a.neck.endLevel}:${a.neck.extraSource}` : 'c4',
  pair: `${a.rpn}/${a.head.kind}.${a.head.stages}`,
  input: `${a.input.widthPx}x${a.input.heightPx}`,
});
const modularGenes = (a: Architecture) => ({
  base: a.backbone.baseChannels,
  blocks: a.backbone.blocks,
  fpn: a.neck.kind === 'fpn' ? a.neck.channels : 0,
  head: a.head.channels,
});
const changed = (x: Record<string, unknown>, y: Record<string, unknown>) => Object.keys(x).filter((k) => x[k] !== y[k]);

describe('sampleArchitectures', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    for (const stage of ['structural', 'modular'] as const) {
      const a = sampleArchitectures(stage, 20, 5).map(toCanonical);
      expect(sampleArchitectures(stage, 20, 5).map(toCanonical)).toEqual(a);
      expect(sampleArchitectures(stage, 20, 6).map(toCanonical)).not.toEqual(a);
    }
  });

  it('covers the whole structural space without repeats', () => {
    const all = sampleArchitectures('structural', structuralSpaceSize(), 1);
    expect(new Set(all.map(architectureId)).size).toBe(structuralSpaceSize());
    for (const a of all.slice(0, 200)) validateArchitecture(a, { space: 'structural' });
  });

  it('samples the structural genes about uniformly', () => {
    const counts = new Map<string, number>();
    for (const a of sampleArchitectures('structural', 4000, 3)) counts.set(a.rpn, (counts.get(a.rpn) ?? 0) + 1);
    // 10 rpn/head pairs: 2 without RPN (RetinaNet, FCOS), 4 behind each RPN kind -> 2/10, 4/10, 4/10.
    expect(counts.get('none')! / 4000).toBeCloseTo(2 / 10, 1);
    expect(counts.get('rpn')! / 4000).toBeCloseTo(4 / 10, 1);
  });

  it('keeps the base structure in the modular stage, with valid modular genes, distinct', () => {
    for (const base of [r101, mbv2]) {
      const samples = sampleArchitectures('modular', 300, 9, { base });
      expect(new Set(samples.map(architectureId)).size).toBe(300);
      for (const a of samples) {
        validateArchitecture(a, { space: 'modular' });
        expect(structuralGenes(a)).toEqual(structuralGenes(base));
      }
      // Plausible strings: most keep the standard number of doublings, give or take one.
      const std = STANDARD_BLOCKS[base.backbone.kind].split('2').length - 1;
      const near = samples.filter((a) => Math.abs(a.backbone.blocks.split('2').length - 1 - std) <= 1).length;
      expect(near / samples.length).toBeGreaterThan(0.9);
    }
  });

  it('draws modular samples around structural samples when no base is given', () => {
    const samples = sampleArchitectures('modular', 200, 4);
    for (const a of samples) validateArchitecture(a, { space: 'modular' });
    expect(new Set(samples.map((a) => a.backbone.kind)).size).toBe(7);
  });

  it('rejects a bad count, seed or stage naming the field', () => {
    expect(() => sampleArchitectures('structural', 10_001, 1)).toThrow(/^count: /);
    expect(() => sampleArchitectures('structural', 1, -1)).toThrow(/^seed: /);
    expect(() => sampleArchitectures('both' as never, 1, 1)).toThrow(/^stage: /);
    expect(() => sampleArchitectures('modular', 1, 1, { base: { ...r101, input: { widthPx: 0, heightPx: 0 } } })).toThrow(
      /^input\.width_px: /,
    );
  });
});

describe('mutateArchitecture', () => {
  const parents = [
    r101,
    mbv2,
    ...sampleArchitectures('structural', 30, 21),
    ...sampleArchitectures('modular', 30, 22),
  ];

  it('changes exactly one structural gene and keeps structural parents structural', () => {
    for (let seed = 0; seed < 400; seed++) {
      const p = parents[seed % parents.length]!;
      const c = mutateArchitecture(p, 'structural', seed);
      expect(changed(structuralGenes(c), structuralGenes(p))).toHaveLength(1);
      if (seed % parents.length < 32) validateArchitecture(c, { space: 'structural' });
    }
  });

  it('resets the backbone modules to the standard ones when the kind changes', () => {
    const modularParent = { ...r101, backbone: { kind: 'resnet101' as const, baseChannels: 48, blocks: '1-2-211-2' } };
    let seen = 0;
    for (let seed = 0; seed < 100; seed++) {
      const c = mutateArchitecture(modularParent, 'structural', seed);
      if (c.backbone.kind === 'resnet101') {
        expect(c.backbone.blocks).toBe('1-2-211-2');
        continue;
      }
      seen++;
      expect(c.backbone).toEqual({ kind: c.backbone.kind, baseChannels: 64, blocks: STANDARD_BLOCKS[c.backbone.kind] });
    }
    expect(seen).toBeGreaterThan(10);
  });

  it('changes exactly one modular gene, never the structure, and stays valid', () => {
    const edits = new Set<string>();
    for (let seed = 0; seed < 2000; seed++) {
      const p = parents[seed % parents.length]!;
      const c = mutateArchitecture(p, 'modular', seed);
      validateArchitecture(c, { space: 'modular' });
      expect(structuralGenes(c)).toEqual(structuralGenes(p));
      const diff = changed(modularGenes(c), modularGenes(p));
      expect(diff).toHaveLength(1);
      if (diff[0] === 'blocks') {
        const [a, b] = [p.backbone.blocks, c.backbone.blocks];
        edits.add(b.length > a.length ? 'insert' : b.length < a.length ? 'remove' : b.split('2').length !== a.split('2').length ? 'flip' : 'move');
      }
    }
    expect([...edits].sort()).toEqual(['flip', 'insert', 'move', 'remove']);
  });

  it('never returns the parent unchanged, and is deterministic per seed', () => {
    for (let seed = 0; seed < 500; seed++) {
      const p = parents[seed % parents.length]!;
      for (const stage of ['structural', 'modular'] as const) {
        const c = mutateArchitecture(p, stage, seed);
        expect(toCanonical(c)).not.toBe(toCanonical(p));
        expect(toCanonical(mutateArchitecture(p, stage, seed))).toBe(toCanonical(c));
      }
    }
  });

  it('mutates a string at the edge of the bounds', () => {
    // 40 blocks and the maximum of 4 doublings: only removals, 2->1 flips and moves fit.
    const edge = { ...r101, backbone: { kind: 'resnet101' as const, baseChannels: 64, blocks: `2${'1'.repeat(9)}-2${'1'.repeat(9)}-2${'1'.repeat(9)}-2${'1'.repeat(9)}` } };
    for (let seed = 0; seed < 200; seed++) validateArchitecture(mutateArchitecture(edge, 'modular', seed), { space: 'modular' });
  });
});

describe('crossoverArchitectures', () => {
  const pool = [...sampleArchitectures('modular', 40, 31), ...sampleArchitectures('modular', 20, 32, { base: r101 }), r101, mbv2];

  it('makes valid children whose genes come from the parents', () => {
    for (let seed = 0; seed < 1000; seed++) {
      const a = pool[seed % pool.length]!;
      const b = pool[(seed * 7 + 3) % pool.length]!;
      const s = crossoverArchitectures(a, b, 'structural', seed);
      validateArchitecture(s, { space: 'modular' });
      const [gs, ga, gb] = [structuralGenes(s), structuralGenes(a), structuralGenes(b)];
      for (const k of Object.keys(gs) as (keyof typeof gs)[]) expect([ga[k], gb[k]]).toContain(gs[k]);

      if (structureKey(a) !== structureKey(b)) {
        expect(() => crossoverArchitectures(a, b, 'modular', seed)).toThrow(/^second: the modular stage crosses two architectures of one structure/);
        continue;
      }
      const m = crossoverArchitectures(a, b, 'modular', seed);
      validateArchitecture(m, { space: 'modular' });
      expect(structuralGenes(m)).toEqual(ga);
      expect([a.backbone.baseChannels, b.backbone.baseChannels]).toContain(m.backbone.baseChannels);
      expect([a.head.channels, b.head.channels]).toContain(m.head.channels);
    }
  });

  it('crosses the modules of one structure, and refuses two structures in the modular stage', () => {
    const a = { ...r101, backbone: { ...r101.backbone, baseChannels: 48 }, head: { ...r101.head, channels: 128 } };
    const b = { ...r101, backbone: { ...r101.backbone, baseChannels: 72 }, head: { ...r101.head, channels: 512 } };
    const children = new Set<string>();
    for (let seed = 0; seed < 64; seed++) {
      const c = crossoverArchitectures(a, b, 'modular', seed);
      children.add(`${c.backbone.baseChannels}/${c.head.channels}`);
    }
    expect(children).toEqual(new Set(['48/128', '48/512', '72/128', '72/512']));
    expect(() => crossoverArchitectures(r101, mbv2, 'modular', 1)).toThrow(ArchValidationError);
  });

  it('mixes block strings stage by stage when the backbones match', () => {
    const a = { ...r101, backbone: { ...r101.backbone, blocks: '11-21-21-21' } };
    const b = { ...r101, backbone: { ...r101.backbone, blocks: '1111-2111111-2111-2' } };
    const children = new Set<string>();
    for (let seed = 0; seed < 200; seed++) children.add(crossoverArchitectures(a, b, 'modular', seed).backbone.blocks);
    // 2^4 stage choices, all within bounds: every mix appears.
    expect(children.size).toBe(16);
    expect(children).toContain('11-2111111-21-2');
  });

  it('repairs children that would exceed the bounds', () => {
    const a = { ...r101, backbone: { ...r101.backbone, blocks: `${'1'.repeat(30)}-2-2-1` } };
    const b = { ...r101, backbone: { ...r101.backbone, blocks: `1-2-2-2${'1'.repeat(29)}` } };
    for (let seed = 0; seed < 100; seed++) validateArchitecture(crossoverArchitectures(a, b, 'modular', seed), { space: 'modular' });
  });

  it('is deterministic per seed', () => {
    const [a, b] = [pool[40]!, pool[41]!];
    expect(crossoverArchitectures(a, b, 'modular', 77)).toEqual(crossoverArchitectures(a, b, 'modular', 77));
  });
});

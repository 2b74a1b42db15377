// Single-level C4 features (stride 16), as Faster R-CNN C4: stage 4 does not run on the image, the
// R-CNN heads run a copy of it per RoI. No fields, no width.

import type { C4Neck } from '../../architecture.js';
import { ArchValidationError } from '../../errors.js';
import type { NeckFamily } from '../family.js';

export const C4: NeckFamily<C4Neck> = {
  tokenForm: 'c4',
  token: () => 'c4',
  parseTail(tail, start) {
    if (tail !== '') throw new ArchValidationError('neck.kind', `c4 has no fields, got ${JSON.stringify(`c4${tail}`)}`, start);
    return {};
  },
  validate: () => ({ kind: 'c4' }),
  fromJson: () => ({}),
  toWire: () => ({ startLevel: 0, endLevel: 0, channels: 0, extraSource: 0 }),
  fromWire: () => ({}),
  structureKey: () => 'c4',
  structuralChoices: () => [{ kind: 'c4' }],
  singleLevel: true,
  check() {},
  backboneStages: () => 3,
  lower(ctx) {
    ctx.setFeature(4, ctx.level(4));
    ctx.sink.output('features', 4, ctx.level(4));
    return { lo: 4, hi: 4 };
  },
};

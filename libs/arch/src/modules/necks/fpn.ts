// mmdetection's FPN (add_extra_convs='on_input' for P6), no norms, no activations: laterals 1x1,
// top-down nearest upsampling and adds, outputs 3x3, P6 a stride-2 3x3 on C5.

import type { FpnNeck } from '../../architecture.js';
import { LAYER_FLAGS } from '../../graph/sink.js';
import type { NeckFamily } from '../family.js';

/** FPN levels: 1 <= startLevel < endLevel <= 6 (P6 is an extra stride-2 convolution on C5). */
export const FPN_MIN_LEVEL = 1;
export const FPN_MAX_LEVEL = 6;

export const FPN: NeckFamily<FpnNeck> = {
  check({ startLevel: lo, endLevel: hi }, fail) {
    if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= FPN_MIN_LEVEL && lo < hi && hi <= FPN_MAX_LEVEL)) {
      fail(`fpn levels ${lo}..${hi} not within ${FPN_MIN_LEVEL}..${FPN_MAX_LEVEL} with start < end`);
    }
  },
  // Backbone stages above the highest level the FPN reads are not executed (P6 reads C5).
  backboneStages: (neck) => Math.min(neck.endLevel, 5) - 1,
  lower(ctx, { startLevel: lo, endLevel: hi, channels }) {
    const s = ctx.sink;
    const top = Math.min(hi, 5);
    ctx.begin('neck', 0, LAYER_FLAGS.neck);
    for (let l = lo; l <= top; l++) {
      s.enterScope('p', l);
      ctx.setFeature(l, ctx.conv('lateral', ctx.level(l), channels, 1, 1, 0, 1, true));
      s.exitScope();
    }
    for (let l = top; l > lo; l--) {
      const below = ctx.feature(l - 1);
      s.enterScope('p', l - 1);
      const up = ctx.resize('upsample', ctx.feature(l), ctx.height(below), ctx.width(below));
      ctx.setFeature(l - 1, ctx.add('add', below, up));
      s.exitScope();
    }
    for (let l = lo; l <= top; l++) {
      s.enterScope('p', l);
      ctx.setFeature(l, ctx.conv('output', ctx.feature(l), channels, 3, 1, 1, 1, true));
      s.output('features', l, ctx.feature(l));
      s.exitScope();
    }
    if (hi === 6) {
      s.enterScope('p', 6);
      ctx.setFeature(6, ctx.conv('output', ctx.level(5), channels, 3, 2, 1, 1, true));
      s.output('features', 6, ctx.feature(6));
      s.exitScope();
    }
    return { lo, hi };
  },
};

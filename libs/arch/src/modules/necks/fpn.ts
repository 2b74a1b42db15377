// mmdetection's FPN, no norms: laterals 1x1, top-down nearest upsampling and adds, outputs 3x3;
// P6 a stride-2 3x3 on what the neck's extra source names (C5 or P5), P7 a stride-2 3x3 on
// relu(P6), as torchvision's LastLevelP6P7.

import type { FpnNeck } from '../../architecture.js';
import { LAYER_FLAGS } from '../../graph/sink.js';
import type { FpnExtraSourceFamily, NeckFamily } from '../family.js';

/** FPN levels: 1 <= startLevel <= 5, startLevel < endLevel <= 7 (levels 6 and 7 are extra convolutions). */
export const FPN_MIN_LEVEL = 1;
export const FPN_MAX_LEVEL = 7;
/** The backbone's last level: the pyramid proper ends here, the extra levels start above it. */
export const FPN_TOP_BACKBONE_LEVEL = 5;

/** The FPN over the registered extra-level sources (the registry passes its table: no import cycle). */
export const fpnNeck = (sources: Readonly<Record<FpnNeck['extraSource'], FpnExtraSourceFamily>>): NeckFamily<FpnNeck> => ({
  check(neck, fail) {
    const { startLevel: lo, endLevel: hi } = neck;
    if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= FPN_MIN_LEVEL && lo <= FPN_TOP_BACKBONE_LEVEL && lo < hi && hi <= FPN_MAX_LEVEL)) {
      fail(`fpn levels ${lo}..${hi} not within ${FPN_MIN_LEVEL}..${FPN_MAX_LEVEL} with start <= ${FPN_TOP_BACKBONE_LEVEL} and start < end`);
    }
    const source = sources[neck.extraSource] as FpnExtraSourceFamily | undefined;
    if (!source) fail(`fpn extra source ${String(neck.extraSource)} is not registered`);
    const why = source?.unusableWith?.(neck);
    if (why) fail(why);
  },
  // Backbone stages above the highest level the FPN reads are not executed (P6 and P7 need C5).
  backboneStages: (neck) => Math.min(neck.endLevel, FPN_TOP_BACKBONE_LEVEL) - 1,
  lower(ctx, neck) {
    const { startLevel: lo, endLevel: hi, channels } = neck;
    const s = ctx.sink;
    const top = Math.min(hi, FPN_TOP_BACKBONE_LEVEL);
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
    for (let l = top + 1; l <= hi; l++) {
      s.enterScope('p', l);
      const x = l === top + 1 ? sources[neck.extraSource].p6(ctx, neck) : ctx.conv('output', ctx.act('relu', ctx.feature(l - 1), 'relu'), channels, 3, 2, 1, 1, true);
      ctx.setFeature(l, x);
      s.output('features', l, x);
      s.exitScope();
    }
    return { lo, hi };
  },
});

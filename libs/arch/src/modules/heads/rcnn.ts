// The R-CNN heads (per RoI): Faster R-CNN (one stage, class-specific boxes) and Cascade R-CNN
// (n stages, each its own weights, class-agnostic boxes).
//
// FPN: RoIAlign 7x7 over P_lo..P_top (top = min(end, 5); P6 feeds only the RPN/RetinaNet, as
// mmdetection's featmap_strides stop at 32), then mmdetection's Shared2FCBBoxHead. The level map is
// mmdetection's, counted from the finest level used: a RoI of scale sqrt(wh) < 112 goes to P_lo,
// < 224 to P_lo+1, < 448 to P_lo+2, else P_lo+3, clamped to P_top (with lo = 2, exactly
// mmdetection's P2..P5). C4: RoIAlign 14x14 on C4, a copy of backbone stage 4 (first block stride 2,
// so 7x7), global avg pool.

import type { Head } from '../../architecture.js';
import { LAYER_FLAGS, type ModuleName } from '../../graph/sink.js';
import type { HeadFamily, LoweringContext } from '../family.js';

/** mmdetection SingleRoIExtractor finest_scale. */
export const ROI_FINEST_SCALE = 56;

const HEAD_STAGE_MODULES: readonly ModuleName[] = ['head.stage1', 'head.stage2', 'head.stage3', 'head.stage4'];

function lowerRcnn(ctx: LoweringContext, { stages, channels }: Head, lo: number, hi: number, c4: boolean, faster: boolean): void {
  const s = ctx.sink;
  const k = ctx.numClasses;
  const top = Math.min(hi, 5);
  const inputs: number[] = [];
  const scales: number[] = [];
  for (let l = lo; l <= top; l++) {
    inputs.push(ctx.feature(l));
    scales.push(1 / 2 ** l);
  }
  const c = ctx.channels(inputs[0]!);
  const size = c4 ? 14 : 7;
  for (let t = 0; t < stages; t++) {
    // The C4 head's copy of stage 4 starts as the backbone does.
    ctx.begin(HEAD_STAGE_MODULES[t]!, t + 1, LAYER_FLAGS.backbone);
    const roi = ctx.alloc(c, size, size);
    s.roiAlign(roi, 'roi_align', inputs, c, size, 0, scales, ROI_FINEST_SCALE);
    let x: number;
    if (c4) {
      s.enterScope('shared_head', -1);
      x = ctx.backboneStage(roi, 3);
      s.exitScope();
      x = ctx.flatten('flatten', ctx.globalAvgPool('avgpool', x));
    } else {
      x = ctx.flatten('flatten', roi);
      x = ctx.act('relu1', ctx.linear('fc1', x, 4 * channels, LAYER_FLAGS.sharedFc), 'relu');
      x = ctx.act('relu2', ctx.linear('fc2', x, 4 * channels, LAYER_FLAGS.sharedFc), 'relu');
    }
    s.output('head.cls', t + 1, ctx.linear('fc_cls', x, k + 1, LAYER_FLAGS.head));
    s.output('head.reg', t + 1, ctx.linear('fc_reg', x, faster ? 4 * k : 4, LAYER_FLAGS.boxRegression));
  }
}

export const FASTER_RCNN: HeadFamily = {
  stages: [1],
  defaultStages: 1,
  rpns: ['rpn', 'guided_anchoring'],
  rpnRule: 'faster_rcnn pools proposals',
  lower: (ctx, head, lo, hi) => lowerRcnn(ctx, head, lo, hi, ctx.singleLevelNeck, true),
};

export const CASCADE_RCNN: HeadFamily = {
  stages: [2, 3, 4],
  // The Cascade R-CNN paper's default.
  defaultStages: 3,
  rpns: ['rpn', 'guided_anchoring'],
  rpnRule: 'cascade_rcnn pools proposals',
  lower: (ctx, head, lo, hi) => lowerRcnn(ctx, head, lo, hi, ctx.singleLevelNeck, false),
};

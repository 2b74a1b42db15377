// The detector's heads, registered under their kind: each builds its DetectorHead over the graph
// and the executor. A new head is its own file plus one line here (its lowering is registered in
// libs/arch's module registry).

import type { Architecture, HeadKind } from '@sm-nas/arch';
import type { LayerGraph } from '@sm-nas/arch/graph';
import type { GraphExecutor } from './executor.js';
import type { DetectorHead } from './head.js';
import { Fcos } from './fcos.js';
import { RetinaNet, RETINANET_DEFAULTS, type RetinaNetConfig } from './retinanet.js';
import { TwoStage, twoStageConfig, type TwoStageOptions } from './two-stage.js';

/** What a head builder is given: the architecture as built, its graph and executor, the detector's options. */
export interface HeadBuildContext {
  arch: Architecture;
  graph: LayerGraph;
  executor: GraphExecutor;
  seed: number;
  retinanet?: Partial<RetinaNetConfig>;
  twoStage?: TwoStageOptions;
}

export type HeadBuilder = (ctx: HeadBuildContext) => DetectorHead;

const twoStage: HeadBuilder = ({ arch, graph, executor, seed, twoStage: options }) =>
  new TwoStage(arch, graph, executor, twoStageConfig(arch, options), seed);

export const DETECTOR_HEADS: Readonly<Record<HeadKind, HeadBuilder>> = {
  retinanet: ({ graph, retinanet }) => new RetinaNet(graph, { ...RETINANET_DEFAULTS, ...retinanet }),
  faster_rcnn: twoStage,
  cascade_rcnn: twoStage,
  fcos: ({ graph }) => new Fcos(graph),
};

// The FLOPs counter: the lowering of libs/arch/graph summed as it is emitted (no graph is built, no
// allocation per layer), so tens of thousands of detectors per second fit on one core.

import type { Architecture, InputSize } from '@sm-nas/arch';
import {
  DEFAULT_PROPOSALS, lower, MODULE_NAMES,
  type ActivationKind, type LayerGraph, type LayerSink, type LowerOptions, type ModuleName, type NormKind,
} from '@sm-nas/arch/graph';
import { convMultiplyAdds, convParams, linearParams, nodeMultiplyAdds, nodeParams, normParams } from './cost.js';

export interface ModuleFlops {
  name: ModuleName;
  /** This module's share of the total: per image, or proposals x perProposalMultiplyAdds. */
  multiplyAdds: number;
  params: number;
  /** Per RoI, for modules that run once per proposal (R-CNN stages); 0 otherwise. */
  perProposalMultiplyAdds: number;
}

export interface FlopsReport {
  input: InputSize;
  /** Total = per-image multiply-adds + proposals x perProposalMultiplyAdds. */
  multiplyAdds: number;
  params: number;
  /** Proposals the total assumes (0 when nothing runs per proposal). */
  proposals: number;
  perProposalMultiplyAdds: number;
  /** Modules in emission order; their multiplyAdds and params sum to the totals. */
  modules: ModuleFlops[];
}

const MODULE_COUNT = MODULE_NAMES.length;
const MODULE_INDEX = Object.fromEntries(MODULE_NAMES.map((name, i) => [name, i])) as Record<ModuleName, number>;

/** A LayerSink summing multiply-adds and parameters per module. */
export class SummingSink implements LayerSink {
  /** Per module: multiply-adds (per RoI for per-RoI modules), parameters, flags. */
  readonly multiplyAdds = new Float64Array(MODULE_COUNT);
  readonly params = new Float64Array(MODULE_COUNT);
  readonly perRoi = new Uint8Array(MODULE_COUNT);
  readonly present = new Uint8Array(MODULE_COUNT);
  private current = 0;

  reset(): void {
    this.multiplyAdds.fill(0);
    this.params.fill(0);
    this.perRoi.fill(0);
    this.present.fill(0);
    this.current = 0;
  }

  beginModule(module: ModuleName, roiStage: number): void {
    const i = MODULE_INDEX[module];
    this.current = i;
    this.present[i] = 1;
    this.perRoi[i] = roiStage > 0 ? 1 : 0;
  }
  enterScope(): void {}
  exitScope(): void {}
  input(): void {}
  conv2d(
    _id: number, _name: string, _input: number, inChannels: number, outChannels: number, kernel: number,
    _stride: number, _padding: number, _dilation: number, groups: number, bias: boolean,
    outHeight: number, outWidth: number, weightsOf: number,
  ): void {
    this.multiplyAdds[this.current]! += convMultiplyAdds(inChannels, outChannels, kernel, groups, outHeight, outWidth);
    if (weightsOf < 0) this.params[this.current]! += convParams(inChannels, outChannels, kernel, groups, bias);
  }
  deformConv2d(
    _id: number, _name: string, _input: number, _offset: number, inChannels: number, outChannels: number,
    kernel: number, _stride: number, _padding: number, _dilation: number, groups: number, _deformGroups: number,
    bias: boolean, outHeight: number, outWidth: number, weightsOf: number,
  ): void {
    this.multiplyAdds[this.current]! += convMultiplyAdds(inChannels, outChannels, kernel, groups, outHeight, outWidth);
    if (weightsOf < 0) this.params[this.current]! += convParams(inChannels, outChannels, kernel, groups, bias);
  }
  norm(
    _id: number, _name: string, _input: number, _kind: NormKind, channels: number, _groups: number,
    affine: boolean, _height: number, _width: number, weightsOf: number,
  ): void {
    if (weightsOf < 0) this.params[this.current]! += normParams(channels, affine);
  }
  activation(_id: number, _name: string, _input: number, _kind: ActivationKind): void {}
  maxPool(): void {}
  globalAvgPool(): void {}
  resize(): void {}
  add(): void {}
  concat(): void {}
  flatten(): void {}
  linear(_id: number, _name: string, _input: number, inFeatures: number, outFeatures: number, bias: boolean, weightsOf: number): void {
    this.multiplyAdds[this.current]! += inFeatures * outFeatures;
    if (weightsOf < 0) this.params[this.current]! += linearParams(inFeatures, outFeatures, bias);
  }
  roiAlign(): void {}
  output(): void {}

  /** The report for `proposals` RoIs per R-CNN stage. */
  report(input: InputSize, proposals: number): FlopsReport {
    const modules: ModuleFlops[] = [];
    let perImage = 0;
    let perProposal = 0;
    let params = 0;
    let anyPerRoi = false;
    for (let i = 0; i < MODULE_COUNT; i++) {
      if (this.present[i] === 0) continue;
      const macs = this.multiplyAdds[i]!;
      const p = this.params[i]!;
      params += p;
      if (this.perRoi[i] === 1) {
        anyPerRoi = true;
        perProposal += macs;
        modules.push({ name: MODULE_NAMES[i]!, multiplyAdds: proposals * macs, params: p, perProposalMultiplyAdds: macs });
      } else {
        perImage += macs;
        modules.push({ name: MODULE_NAMES[i]!, multiplyAdds: macs, params: p, perProposalMultiplyAdds: 0 });
      }
    }
    const n = anyPerRoi ? proposals : 0;
    return { input, multiplyAdds: perImage + n * perProposal, params, proposals: n, perProposalMultiplyAdds: perProposal, modules };
  }
}

const shared = new SummingSink();

/** Multiply-adds and parameters of `arch` (see cost.ts for the convention), per module. */
export function countFlops(arch: Architecture, options: LowerOptions = {}): FlopsReport {
  const form = options.form ?? 'detection';
  const input = options.input ?? arch.input;
  const proposals = form === 'detection' ? (options.proposals ?? DEFAULT_PROPOSALS) : 0;
  const sink = shared;
  sink.reset();
  lower(arch, options, sink);
  return sink.report(input, proposals);
}

/** The same report from a built graph (libs/detector's view); equals countFlops for that graph. */
export function countGraphFlops(graph: LayerGraph): FlopsReport {
  const sink = new SummingSink();
  for (const node of graph.nodes) {
    if (sink.present[MODULE_INDEX[node.module]] === 0) sink.beginModule(node.module, node.roiStage);
    const i = MODULE_INDEX[node.module];
    sink.multiplyAdds[i]! += nodeMultiplyAdds(node);
    sink.params[i]! += nodeParams(node);
  }
  return sink.report(graph.input, graph.form === 'detection' ? graph.proposals : 0);
}

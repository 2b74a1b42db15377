// The one lowering of an architecture to layers: torchvision's backbones, mmdetection's default necks
// and heads, each lowered by its module family (libs/arch/src/modules, looked up in the registry by
// kind; nothing here branches on a kind). It reports each layer to a `LayerSink` and allocates nothing per layer (shapes live in
// reusable typed arrays indexed by node id), so the FLOPs counter can afford it tens of thousands of
// times per second, and the detector builds exactly what is counted.

import type { Architecture, InputSize } from '../architecture.js';
import type { BackboneFamily, LoweringContext } from '../modules/family.js';
import { BACKBONES, HEADS, neckFamily, RPNS } from '../modules/registry.js';
import { LAYER_FLAGS, type ActivationKind, type LayerFlags, type LayerSink, type ModuleName, type NormKind } from './sink.js';

export type LoweringForm = 'detection' | 'classification';

export interface LowerOptions {
  /** 'classification': the backbone alone with its ImageNet classifier (torchvision's model). */
  form?: LoweringForm;
  /** Default 80 (COCO) for detection, 1000 (ImageNet) for classification. */
  numClasses?: number;
  /** RoIs each R-CNN stage runs on; default 1000, mmdetection's test-time RPN max_per_img. */
  proposals?: number;
  /** The backbone's norm layers (necks and heads have none, as mmdetection's defaults). */
  norm?: NormKind;
  /** Overrides `arch.input`. */
  input?: InputSize;
}

export interface ResolvedLowerOptions {
  form: LoweringForm;
  numClasses: number;
  proposals: number;
  norm: NormKind;
  input: InputSize;
}

export const DEFAULT_PROPOSALS = 1000;

export function resolveLowerOptions(arch: Architecture, options: LowerOptions = {}): ResolvedLowerOptions {
  const form = options.form ?? 'detection';
  return {
    form,
    numClasses: options.numClasses ?? (form === 'detection' ? 80 : 1000),
    proposals: options.proposals ?? DEFAULT_PROPOSALS,
    norm: options.norm ?? 'batch_norm',
    input: options.input ?? arch.input,
  };
}

export { makeDivisible, MOBILENET_V2_LADDER } from '../modules/backbones/mobilenet-v2.js';
export { RPN_ANCHORS_C4, RPN_ANCHORS_FPN } from '../modules/rpns/rpn.js';
export { RETINA_ANCHORS } from '../modules/heads/retinanet.js';
export { GA_DEFORM_GROUPS } from '../modules/rpns/guided-anchoring.js';
export { ROI_FINEST_SCALE } from '../modules/heads/rcnn.js';

const CHAR_1 = 49; // '1'
const CHAR_2 = 50; // '2'
const CHAR_DASH = 45; // '-'

/**
 * Lowers `arch` and reports every layer to `sink`. Detection form: backbone (only the stages the
 * neck reads), neck, RPN, head; classification form: the whole backbone and its classifier.
 * Throws RangeError on an architecture the lowering cannot build (a malformed block string, FPN
 * levels outside 1..6, a head/rpn pairing without a meaning); full validation lives elsewhere.
 */
export function lower(arch: Architecture, options: LowerOptions, sink: LayerSink): void {
  // One Lowerer is reused between calls (its scratch arrays are the only state); a reentrant call
  // (a sink lowering another architecture) gets a fresh one.
  const l = idle ?? new Lowerer();
  idle = undefined;
  try {
    l.run(arch, options, sink);
  } finally {
    l.release();
    idle = l;
  }
}

const STAGE_MODULES: readonly ModuleName[] = ['backbone.stage1', 'backbone.stage2', 'backbone.stage3', 'backbone.stage4'];

function fail(message: string): never {
  throw new RangeError(`lower: ${message}`);
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** The lowering's state and node helpers; module families lower through it (see LoweringContext). */
class Lowerer implements LoweringContext {
  sink!: LayerSink;
  private next = 0;
  private cs = new Int32Array(1024);
  private hs = new Int32Array(1024);
  private ws = new Int32Array(1024);
  /** > 0 while a head shared across levels is emitted at a later level: node id - offset owns the weights. */
  private shareOffset = 0;
  /** The flags of the current module's layers, unless a layer names its own. */
  private flags: LayerFlags = LAYER_FLAGS.backbone;
  private normKind: NormKind = 'batch_norm';
  numClasses = 0;
  singleLevelNeck = false;
  // Backbone.
  private family!: BackboneFamily;
  blocks = '';
  base = 0;
  /** Offsets of each stage's first character in `blocks`, and of its end (exclusive). */
  private readonly begins = new Int32Array(4);
  private readonly ends = new Int32Array(4);
  /** Number of '2's in the stages before stage i. */
  private readonly twos = new Int32Array(4);
  /** Node ids of C1..C5 (index = level), and of the neck's outputs (P1..P7, or C4 at 4). */
  private readonly levels = new Int32Array(8);
  private readonly pyramid = new Int32Array(8);

  run(arch: Architecture, options: LowerOptions, sink: LayerSink): void {
    this.sink = sink;
    this.next = 0;
    this.shareOffset = 0;
    this.flags = LAYER_FLAGS.backbone;
    const form = options.form ?? 'detection';
    const input = options.input ?? arch.input;
    this.numClasses = options.numClasses ?? (form === 'detection' ? 80 : 1000);
    this.normKind = options.norm ?? 'batch_norm';
    this.parseBackbone(arch);

    const { neck, head, rpn } = arch;
    const detection = form === 'detection';
    // Everything is checked before the first node is emitted.
    if (!(Number.isInteger(input.widthPx) && Number.isInteger(input.heightPx) && input.widthPx > 0 && input.heightPx > 0)) {
      fail(`input ${input.widthPx}x${input.heightPx}`);
    }
    const neckKind = neckFamily(neck);
    this.singleLevelNeck = neckKind?.singleLevel === true;
    const headKind = HEADS[head.kind];
    const rpnKind = RPNS[rpn];
    if (detection) {
      // Kinds come from the registry; a value from outside the type (JSON) names none.
      if (!neckKind) fail(`neck kind ${String(neck.kind)}`);
      if (!headKind) fail(`head kind ${String(head.kind)}`);
      if (!rpnKind) fail(`rpn kind ${String(rpn)}`);
      neckKind.check(neck, fail);
      if (!headKind.rpns.includes(rpn)) fail(`${headKind.rpnRule} (got rpn ${rpn})`);
      // A dense head (stages [0]) has no R-CNN stage to count.
      if (headKind.stages[0] !== 0 && !headKind.stages.includes(head.stages)) {
        fail(`${head.kind} with ${head.stages} stages`);
      }
    }

    this.begin('backbone.stem', 0, LAYER_FLAGS.backbone);
    const x = this.alloc(3, input.heightPx, input.widthPx);
    sink.input(x, 3, input.heightPx, input.widthPx);

    if (!detection) {
      this.backbone(x, 4);
      this.begin('backbone.classifier', 0, LAYER_FLAGS.backbone);
      sink.output('logits', 0, this.family.classifier(this, this.levels[5]!));
      return;
    }
    this.backbone(x, neckKind.backboneStages(neck));
    const { lo, hi } = neckKind.lower(this, neck);
    rpnKind.lower(this, lo, hi, arch);
    headKind.lower(this, head, lo, hi, arch);
  }

  /** Drops the sink so an idle lowerer keeps nothing alive. */
  release(): void {
    this.sink = undefined as unknown as LayerSink;
  }

  // ---- LoweringContext --------------------------------------------------------------------------

  stageBegin(stage: number): number {
    return this.begins[stage]!;
  }
  stageEnd(stage: number): number {
    return this.ends[stage]!;
  }
  twosBefore(stage: number): number {
    return this.twos[stage]!;
  }
  channels(x: number): number {
    return this.cs[x]!;
  }
  height(x: number): number {
    return this.hs[x]!;
  }
  width(x: number): number {
    return this.ws[x]!;
  }
  level(l: number): number {
    return this.levels[l]!;
  }
  setLevel(l: number, id: number): void {
    this.levels[l] = id;
  }
  feature(l: number): number {
    return this.pyramid[l]!;
  }
  setFeature(l: number, id: number): void {
    this.pyramid[l] = id;
  }
  fail(message: string): never {
    return fail(message);
  }

  alloc(c: number, h: number, w: number): number {
    const id = this.next++;
    if (id === this.cs.length) {
      const grow = (a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.cs = grow(this.cs);
      this.hs = grow(this.hs);
      this.ws = grow(this.ws);
    }
    this.cs[id] = c;
    this.hs[id] = h;
    this.ws[id] = w;
    return id;
  }

  owner(id: number): number {
    return this.shareOffset === 0 ? -1 : id - this.shareOffset;
  }

  begin(module: ModuleName, roiStage: number, flags: LayerFlags): void {
    this.flags = flags;
    this.sink.beginModule(module, roiStage);
  }

  sharedLevels(lo: number, hi: number, emit: (l: number) => void): void {
    const start = this.next;
    let perLevel = 0;
    try {
      for (let l = lo; l <= hi; l++) {
        if (l > lo) {
          if (perLevel === 0) perLevel = this.next - start;
          this.shareOffset = (l - lo) * perLevel;
        }
        this.sink.enterScope('p', l, true);
        emit(l);
        this.sink.exitScope();
      }
    } finally {
      this.shareOffset = 0;
    }
  }

  conv(
    name: string, x: number, outC: number, k: number, stride: number, pad: number, groups: number, bias: boolean,
    flags: LayerFlags = this.flags,
  ): number {
    const inC = this.cs[x]!;
    const oh = Math.floor((this.hs[x]! + 2 * pad - k) / stride) + 1;
    const ow = Math.floor((this.ws[x]! + 2 * pad - k) / stride) + 1;
    const id = this.alloc(outC, oh, ow);
    this.sink.conv2d(id, name, x, inC, outC, k, stride, pad, 1, groups, bias, oh, ow, this.owner(id), flags);
    return id;
  }

  norm(name: string, x: number): number {
    // mmdetection's GN uses 32 groups; widths that 32 does not divide (MobileNetV2's 24, 144, ...)
    // take the largest power-of-two divisor below it.
    return this.normOf(name, x, this.normKind, this.normKind === 'group_norm' ? gcd(this.cs[x]!, 32) : 1);
  }

  groupNorm(name: string, x: number, groups: number): number {
    return this.normOf(name, x, 'group_norm', groups);
  }

  private normOf(name: string, x: number, kind: NormKind, groups: number): number {
    const c = this.cs[x]!;
    const h = this.hs[x]!;
    const w = this.ws[x]!;
    const id = this.alloc(c, h, w);
    this.sink.norm(id, name, x, kind, c, groups, true, h, w, this.owner(id));
    return id;
  }

  act(name: string, x: number, kind: ActivationKind): number {
    const c = this.cs[x]!;
    const h = this.hs[x]!;
    const w = this.ws[x]!;
    const id = this.alloc(c, h, w);
    this.sink.activation(id, name, x, kind, c, h, w);
    return id;
  }

  add(name: string, a: number, b: number): number {
    const c = this.cs[a]!;
    const h = this.hs[a]!;
    const w = this.ws[a]!;
    const id = this.alloc(c, h, w);
    this.sink.add(id, name, a, b, c, h, w);
    return id;
  }

  linear(name: string, x: number, out: number, flags: LayerFlags = this.flags): number {
    const inF = this.cs[x]!;
    const id = this.alloc(out, 1, 1);
    this.sink.linear(id, name, x, inF, out, true, this.owner(id), flags);
    return id;
  }

  flatten(name: string, x: number): number {
    const f = this.cs[x]! * this.hs[x]! * this.ws[x]!;
    const id = this.alloc(f, 1, 1);
    this.sink.flatten(id, name, x, f);
    return id;
  }

  globalAvgPool(name: string, x: number): number {
    const c = this.cs[x]!;
    const id = this.alloc(c, 1, 1);
    this.sink.globalAvgPool(id, name, x, c);
    return id;
  }

  maxPool(name: string, x: number, k: number, stride: number, pad: number): number {
    const c = this.cs[x]!;
    const oh = Math.floor((this.hs[x]! + 2 * pad - k) / stride) + 1;
    const ow = Math.floor((this.ws[x]! + 2 * pad - k) / stride) + 1;
    const id = this.alloc(c, oh, ow);
    this.sink.maxPool(id, name, x, k, stride, pad, c, oh, ow);
    return id;
  }

  resize(name: string, x: number, h: number, w: number): number {
    const c = this.cs[x]!;
    const id = this.alloc(c, h, w);
    this.sink.resize(id, name, x, c, h, w);
    return id;
  }

  backboneStage(x: number, stage: number): number {
    return this.family.stage(this, x, stage);
  }

  // ---- Backbone -----------------------------------------------------------------------------------

  private parseBackbone(arch: Architecture): void {
    const { kind, baseChannels, blocks } = arch.backbone;
    if (!(Number.isInteger(baseChannels) && baseChannels > 0)) fail(`backbone base channels ${baseChannels}`);
    const family = BACKBONES[kind];
    if (!family) fail(`backbone kind ${String(kind)}`);
    this.family = family;
    this.base = baseChannels;
    this.blocks = blocks;
    const most = family.maxBuildableDoublings;
    let stage = 0;
    let twos = 0;
    this.begins[0] = 0;
    this.twos[0] = 0;
    for (let i = 0; i < blocks.length; i++) {
      const ch = blocks.charCodeAt(i);
      if (ch === CHAR_DASH) {
        if (stage === 3 || i === this.begins[stage]) fail(`block string '${blocks}'`);
        this.ends[stage] = i;
        stage++;
        this.begins[stage] = i + 1;
        this.twos[stage] = twos;
      } else if (ch === CHAR_2) {
        if (++twos > (most?.count ?? Infinity)) fail(`block string '${blocks}' ${most!.reason}`);
      } else if (ch !== CHAR_1) {
        fail(`block string '${blocks}'`);
      }
    }
    if (stage !== 3 || blocks.length === this.begins[3]) fail(`block string '${blocks}' (4 stages)`);
    this.ends[3] = blocks.length;
  }

  /** Runs the stem and stages 1..lastStage, recording C1..C(lastStage+1) in `levels`. */
  private backbone(x: number, lastStage: number): void {
    const { c1, out } = this.family.stem(this, x);
    this.levels[1] = c1;
    let cur = out;
    for (let stage = 0; stage < lastStage; stage++) {
      this.begin(STAGE_MODULES[stage]!, 0, LAYER_FLAGS.backbone);
      cur = this.family.stage(this, cur, stage);
      this.levels[stage + 2] = cur;
    }
  }
}

let idle: Lowerer | undefined = new Lowerer();

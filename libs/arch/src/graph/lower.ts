// The one lowering of an architecture to layers: torchvision's backbones, mmdetection's default necks
// and heads. It reports each layer to a `LayerSink` and allocates nothing per layer (shapes live in
// reusable typed arrays indexed by node id), so the FLOPs counter can afford it tens of thousands of
// times per second, and the detector builds exactly what is counted.

import type { Architecture, InputSize } from '../architecture.js';
import { blockTypeOf, groupsOf } from '../defaults.js';
import type { ActivationKind, LayerSink, ModuleName, NormKind } from './sink.js';

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

/** torchvision's `_make_divisible(v, 8)` (MobileNetV2 widths). */
export function makeDivisible(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

/** torchvision's MobileNetV2 widths after the t=1 block (16), before the width multiplier. */
export const MOBILENET_V2_LADDER: readonly number[] = [24, 32, 64, 96, 160, 320];

/** mmdetection RPNHead anchors per location: 3 ratios with FPN; 5 scales x 3 ratios with C4. */
export const RPN_ANCHORS_FPN = 3;
export const RPN_ANCHORS_C4 = 15;
/** mmdetection RetinaHead: 3 octave scales x 3 ratios. */
export const RETINA_ANCHORS = 9;
/** mmdetection GuidedAnchorHead / GARPNHead FeatureAdaption deform_groups. */
export const GA_DEFORM_GROUPS = 4;
/** mmdetection SingleRoIExtractor finest_scale. */
export const ROI_FINEST_SCALE = 56;

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
const HEAD_STAGE_MODULES: readonly ModuleName[] = ['head.stage1', 'head.stage2', 'head.stage3', 'head.stage4'];

function fail(message: string): never {
  throw new RangeError(`lower: ${message}`);
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

class Lowerer {
  private s!: LayerSink;
  private next = 0;
  private cs = new Int32Array(1024);
  private hs = new Int32Array(1024);
  private ws = new Int32Array(1024);
  /** > 0 while a head shared across levels is emitted at a later level: node id - offset owns the weights. */
  private shareOffset = 0;
  private normKind: NormKind = 'batch_norm';
  private numClasses = 0;
  // Backbone.
  private blocks = '';
  private mobile = false;
  private bottleneck = false;
  private base = 0;
  private groups = 1;
  private widthPerGroup = 64;
  /** Offsets of each stage's first character in `blocks`, and of its end (exclusive). */
  private readonly stageBegin = new Int32Array(4);
  private readonly stageEnd = new Int32Array(4);
  /** Number of '2's in the stages before stage i. */
  private readonly twosBefore = new Int32Array(4);
  /** Node ids of C1..C5 (index = level), and of the neck's outputs (P1..P6, or C4 at 4). */
  private readonly levels = new Int32Array(7);
  private readonly pyramid = new Int32Array(7);

  run(arch: Architecture, options: LowerOptions, sink: LayerSink): void {
    this.s = sink;
    this.next = 0;
    this.shareOffset = 0;
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
    if (detection && neck.kind === 'fpn') {
      const { startLevel: lo, endLevel: hi } = neck;
      if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 1 && lo < hi && hi <= 6)) {
        fail(`fpn levels ${lo}..${hi} not within 1..6 with start < end`);
      }
    }
    if (detection && head.kind === 'retinanet') {
      if (rpn !== 'none') fail(`retinanet takes no rpn (got ${rpn})`);
    } else if (detection) {
      if (rpn === 'none') fail(`${head.kind} needs an rpn`);
      const n = head.stages;
      if (head.kind === 'faster_rcnn' ? n !== 1 : !(Number.isInteger(n) && n >= 2 && n <= 4)) {
        fail(`${head.kind} with ${n} stages`);
      }
    }

    sink.beginModule('backbone.stem', false);
    const x = this.alloc(3, input.heightPx, input.widthPx);
    sink.input(x, 3, input.heightPx, input.widthPx);

    if (!detection) {
      this.backbone(x, 4);
      this.classifier(this.levels[5]!);
      return;
    }

    let lo: number;
    let hi: number;
    if (neck.kind === 'c4') {
      // Stage 4 does not run on the image: the R-CNN heads run a copy of it per RoI.
      this.backbone(x, 3);
      lo = hi = 4;
      this.pyramid[4] = this.levels[4]!;
      sink.output('features', 4, this.levels[4]!);
    } else {
      lo = neck.startLevel;
      hi = neck.endLevel;
      // Backbone stages above the highest level the FPN reads are not executed (P6 reads C5).
      this.backbone(x, Math.min(hi, 5) - 1);
      this.fpn(lo, hi, neck.channels);
    }

    if (head.kind === 'retinanet') this.retinaHead(lo, hi, head.channels);
    else {
      if (rpn === 'rpn') this.rpnHead(lo, hi, neck.kind === 'c4' ? RPN_ANCHORS_C4 : RPN_ANCHORS_FPN);
      else this.gaRpnHead(lo, hi);
      this.rcnnHeads(neck.kind === 'c4', lo, Math.min(hi, 5), head.kind === 'faster_rcnn', head.stages, head.channels);
    }
  }

  /** Drops the sink so an idle lowerer keeps nothing alive. */
  release(): void {
    this.s = undefined as unknown as LayerSink;
  }

  // ---- Nodes --------------------------------------------------------------------------------------

  private alloc(c: number, h: number, w: number): number {
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

  private owner(id: number): number {
    return this.shareOffset === 0 ? -1 : id - this.shareOffset;
  }

  private conv(name: string, x: number, outC: number, k: number, stride: number, pad: number, groups: number, bias: boolean): number {
    const inC = this.cs[x]!;
    const oh = Math.floor((this.hs[x]! + 2 * pad - k) / stride) + 1;
    const ow = Math.floor((this.ws[x]! + 2 * pad - k) / stride) + 1;
    const id = this.alloc(outC, oh, ow);
    this.s.conv2d(id, name, x, inC, outC, k, stride, pad, 1, groups, bias, oh, ow, this.owner(id));
    return id;
  }

  private norm(name: string, x: number): number {
    const c = this.cs[x]!;
    const h = this.hs[x]!;
    const w = this.ws[x]!;
    const id = this.alloc(c, h, w);
    // mmdetection's GN uses 32 groups; widths that 32 does not divide (MobileNetV2's 24, 144, ...)
    // take the largest power-of-two divisor below it.
    const groups = this.normKind === 'group_norm' ? gcd(c, 32) : 1;
    this.s.norm(id, name, x, this.normKind, c, groups, true, h, w, this.owner(id));
    return id;
  }

  private act(name: string, x: number, kind: ActivationKind): number {
    const c = this.cs[x]!;
    const h = this.hs[x]!;
    const w = this.ws[x]!;
    const id = this.alloc(c, h, w);
    this.s.activation(id, name, x, kind, c, h, w);
    return id;
  }

  private add(name: string, a: number, b: number): number {
    const c = this.cs[a]!;
    const h = this.hs[a]!;
    const w = this.ws[a]!;
    const id = this.alloc(c, h, w);
    this.s.add(id, name, a, b, c, h, w);
    return id;
  }

  private linear(name: string, x: number, out: number): number {
    const inF = this.cs[x]!;
    const id = this.alloc(out, 1, 1);
    this.s.linear(id, name, x, inF, out, true, this.owner(id));
    return id;
  }

  private flatten(name: string, x: number): number {
    const f = this.cs[x]! * this.hs[x]! * this.ws[x]!;
    const id = this.alloc(f, 1, 1);
    this.s.flatten(id, name, x, f);
    return id;
  }

  private globalAvgPool(name: string, x: number): number {
    const c = this.cs[x]!;
    const id = this.alloc(c, 1, 1);
    this.s.globalAvgPool(id, name, x, c);
    return id;
  }

  // ---- Backbones ----------------------------------------------------------------------------------

  private parseBackbone(arch: Architecture): void {
    const { kind, baseChannels, blocks } = arch.backbone;
    if (!(Number.isInteger(baseChannels) && baseChannels > 0)) fail(`backbone base channels ${baseChannels}`);
    const type = blockTypeOf(kind);
    const g = groupsOf(kind);
    this.mobile = type === 'inverted_residual';
    this.bottleneck = type === 'bottleneck';
    this.groups = g.groups;
    this.widthPerGroup = g.widthPerGroup;
    this.base = baseChannels;
    this.blocks = blocks;
    let stage = 0;
    let twos = 0;
    let ladder = -1;
    this.stageBegin[0] = 0;
    this.twosBefore[0] = 0;
    for (let i = 0; i < blocks.length; i++) {
      const ch = blocks.charCodeAt(i);
      if (ch === CHAR_DASH) {
        if (stage === 3 || i === this.stageBegin[stage]) fail(`block string '${blocks}'`);
        this.stageEnd[stage] = i;
        stage++;
        this.stageBegin[stage] = i + 1;
        this.twosBefore[stage] = twos;
      } else if (ch === CHAR_2) {
        twos++;
        if (this.mobile && ++ladder >= MOBILENET_V2_LADDER.length) fail(`block string '${blocks}' climbs past 320 channels`);
      } else if (ch !== CHAR_1) {
        fail(`block string '${blocks}'`);
      }
    }
    if (stage !== 3 || blocks.length === this.stageBegin[3]) fail(`block string '${blocks}' (4 stages)`);
    this.stageEnd[3] = blocks.length;
  }

  /** Runs the stem and stages 1..lastStage, recording C1..C(lastStage+1) in `levels`. */
  private backbone(x: number, lastStage: number): void {
    const s = this.s;
    let cur: number;
    if (this.mobile) {
      // torchvision mobilenetv2.py: features[0] (conv 3x3/2 + BN + ReLU6) and features[1] (t=1).
      const wm = this.base / 64;
      cur = this.conv('conv', x, makeDivisible(32 * wm), 3, 2, 1, 1, false);
      cur = this.act('relu6', this.norm('norm', cur), 'relu6');
      s.enterScope('block', 0);
      cur = this.invertedResidual(cur, makeDivisible(16 * wm), 1, 1);
      s.exitScope();
      this.levels[1] = cur;
    } else {
      cur = this.conv('conv1', x, this.base, 7, 2, 3, 1, false);
      cur = this.act('relu', this.norm('bn1', cur), 'relu');
      this.levels[1] = cur;
      const oh = Math.floor((this.hs[cur]! + 2 - 3) / 2) + 1;
      const ow = Math.floor((this.ws[cur]! + 2 - 3) / 2) + 1;
      const id = this.alloc(this.cs[cur]!, oh, ow);
      s.maxPool(id, 'maxpool', cur, 3, 2, 1, this.cs[cur]!, oh, ow);
      cur = id;
    }
    for (let stage = 0; stage < lastStage; stage++) {
      s.beginModule(STAGE_MODULES[stage]!, false);
      cur = this.stage(cur, stage);
      this.levels[stage + 2] = cur;
    }
  }

  /** One stage of the block string (also the C4 RoI head's copy of stage 4). */
  private stage(x: number, stage: number): number {
    const s = this.s;
    const begin = this.stageBegin[stage]!;
    const end = this.stageEnd[stage]!;
    const blocks = this.blocks;
    if (this.mobile) {
      const wm = this.base / 64;
      let rung = this.twosBefore[stage]! - 1;
      for (let i = begin; i < end; i++) {
        if (blocks.charCodeAt(i) === CHAR_2) rung++;
        const out = rung < 0 ? makeDivisible(16 * wm) : makeDivisible(MOBILENET_V2_LADDER[rung]! * wm);
        s.enterScope('block', i - begin);
        x = this.invertedResidual(x, out, i === begin ? 2 : 1, 6);
        s.exitScope();
      }
      return x;
    }
    let planes = this.base * 2 ** this.twosBefore[stage]!;
    for (let i = begin; i < end; i++) {
      if (blocks.charCodeAt(i) === CHAR_2) planes *= 2;
      const stride = i === begin && stage > 0 ? 2 : 1;
      s.enterScope('block', i - begin);
      x = this.bottleneck ? this.bottleneckBlock(x, planes, stride) : this.basicBlock(x, planes, stride);
      s.exitScope();
    }
    return x;
  }

  /** torchvision resnet.py BasicBlock (expansion 1). */
  private basicBlock(x: number, planes: number, stride: number): number {
    let y = this.conv('conv1', x, planes, 3, stride, 1, 1, false);
    y = this.act('relu1', this.norm('bn1', y), 'relu');
    y = this.norm('bn2', this.conv('conv2', y, planes, 3, 1, 1, 1, false));
    return this.act('relu2', this.add('add', y, this.shortcut(x, planes, stride)), 'relu');
  }

  /** torchvision resnet.py Bottleneck (v1.5: stride on the 3x3; expansion 4; ResNeXt groups). */
  private bottleneckBlock(x: number, planes: number, stride: number): number {
    const width = Math.floor((planes * this.widthPerGroup) / 64) * this.groups;
    let y = this.conv('conv1', x, width, 1, 1, 0, 1, false);
    y = this.act('relu1', this.norm('bn1', y), 'relu');
    y = this.conv('conv2', y, width, 3, stride, 1, this.groups, false);
    y = this.act('relu2', this.norm('bn2', y), 'relu');
    y = this.norm('bn3', this.conv('conv3', y, planes * 4, 1, 1, 0, 1, false));
    return this.act('relu3', this.add('add', y, this.shortcut(x, planes * 4, stride)), 'relu');
  }

  /** Identity, or torchvision's downsample (conv1x1 with the stride, no bias, + norm). */
  private shortcut(x: number, out: number, stride: number): number {
    if (stride === 1 && this.cs[x] === out) return x;
    return this.norm('downsample.norm', this.conv('downsample.conv', x, out, 1, stride, 0, 1, false));
  }

  /** torchvision mobilenetv2.py InvertedResidual. */
  private invertedResidual(x: number, out: number, stride: number, expand: number): number {
    const inC = this.cs[x]!;
    const hidden = inC * expand;
    let y = x;
    if (expand !== 1) {
      y = this.conv('expand', y, hidden, 1, 1, 0, 1, false);
      y = this.act('expand_act', this.norm('expand_norm', y), 'relu6');
    }
    y = this.conv('depthwise', y, hidden, 3, stride, 1, hidden, false);
    y = this.act('depthwise_act', this.norm('depthwise_norm', y), 'relu6');
    y = this.norm('project_norm', this.conv('project', y, out, 1, 1, 0, 1, false));
    return stride === 1 && inC === out ? this.add('add', y, x) : y;
  }

  /** torchvision's classifiers: [MobileNetV2's last conv 1x1 → 1280] + global avg pool + fc. */
  private classifier(x: number): void {
    this.s.beginModule('backbone.classifier', false);
    if (this.mobile) {
      const last = makeDivisible(1280 * Math.max(1, this.base / 64));
      x = this.act('relu6', this.norm('norm', this.conv('conv', x, last, 1, 1, 0, 1, false)), 'relu6');
    }
    const y = this.linear('fc', this.flatten('flatten', this.globalAvgPool('avgpool', x)), this.numClasses);
    this.s.output('logits', 0, y);
  }

  // ---- Neck ---------------------------------------------------------------------------------------

  /** mmdetection FPN (add_extra_convs='on_input' for P6), no norms, no activations. */
  private fpn(lo: number, hi: number, channels: number): void {
    const s = this.s;
    const top = Math.min(hi, 5);
    const p = this.pyramid;
    s.beginModule('neck', false);
    for (let l = lo; l <= top; l++) {
      s.enterScope('p', l);
      p[l] = this.conv('lateral', this.levels[l]!, channels, 1, 1, 0, 1, true);
      s.exitScope();
    }
    for (let l = top; l > lo; l--) {
      const below = p[l - 1]!;
      const h = this.hs[below]!;
      const w = this.ws[below]!;
      s.enterScope('p', l - 1);
      const up = this.alloc(channels, h, w);
      s.resize(up, 'upsample', p[l]!, channels, h, w);
      p[l - 1] = this.add('add', below, up);
      s.exitScope();
    }
    for (let l = lo; l <= top; l++) {
      s.enterScope('p', l);
      p[l] = this.conv('output', p[l]!, channels, 3, 1, 1, 1, true);
      s.output('features', l, p[l]!);
      s.exitScope();
    }
    if (hi === 6) {
      s.enterScope('p', 6);
      p[6] = this.conv('output', this.levels[5]!, channels, 3, 2, 1, 1, true);
      s.output('features', 6, p[6]!);
      s.exitScope();
    }
  }

  // ---- Dense heads (weights shared across levels) ------------------------------------------------

  /** Starts level `l` of a head shared over levels lo..: later levels reuse level lo's weights. */
  private sharedLevel(l: number, lo: number, start: number, perLevel: number): number {
    if (l === lo) return 0;
    if (perLevel === 0) perLevel = this.next - start;
    this.shareOffset = (l - lo) * perLevel;
    return perLevel;
  }

  /** mmdetection RPNHead. */
  private rpnHead(lo: number, hi: number, anchors: number): void {
    const s = this.s;
    s.beginModule('rpn', false);
    const start = this.next;
    let perLevel = 0;
    for (let l = lo; l <= hi; l++) {
      perLevel = this.sharedLevel(l, lo, start, perLevel);
      s.enterScope('p', l);
      const x = this.pyramid[l]!;
      const f = this.act('relu', this.conv('conv', x, this.cs[x]!, 3, 1, 1, 1, true), 'relu');
      s.output('rpn.cls', l, this.conv('cls', f, anchors, 1, 1, 0, 1, true));
      s.output('rpn.reg', l, this.conv('reg', f, anchors * 4, 1, 1, 0, 1, true));
      s.exitScope();
    }
    this.shareOffset = 0;
  }

  /** mmdetection GARPNHead (GuidedAnchorHead with an RPN conv; one anchor per location). */
  private gaRpnHead(lo: number, hi: number): void {
    const s = this.s;
    s.beginModule('rpn', false);
    const start = this.next;
    let perLevel = 0;
    for (let l = lo; l <= hi; l++) {
      perLevel = this.sharedLevel(l, lo, start, perLevel);
      s.enterScope('p', l);
      const x = this.pyramid[l]!;
      const c = this.cs[x]!;
      const f = this.act('relu', this.conv('conv', x, c, 3, 1, 1, 1, true), 'relu');
      s.output('rpn.loc', l, this.conv('conv_loc', f, 1, 1, 1, 0, 1, true));
      const shape = this.conv('conv_shape', f, 2, 1, 1, 0, 1, true);
      s.output('rpn.shape', l, shape);
      const k = 3;
      const offset = this.conv('conv_offset', shape, GA_DEFORM_GROUPS * k * k * 2, 1, 1, 0, 1, false);
      const h = this.hs[f]!;
      const w = this.ws[f]!;
      const adapt = this.alloc(c, h, w);
      s.deformConv2d(adapt, 'conv_adaption', f, offset, c, c, k, 1, 1, 1, 1, GA_DEFORM_GROUPS, false, h, w, this.owner(adapt));
      const a = this.act('adaption_relu', adapt, 'relu');
      s.output('rpn.cls', l, this.conv('conv_cls', a, 1, 1, 1, 0, 1, true));
      s.output('rpn.reg', l, this.conv('conv_reg', a, 4, 1, 1, 0, 1, true));
      s.exitScope();
    }
    this.shareOffset = 0;
  }

  /** mmdetection RetinaHead: two 4-conv towers, 9 anchors, sigmoid classes (K channels each). */
  private retinaHead(lo: number, hi: number, channels: number): void {
    const s = this.s;
    s.beginModule('head', false);
    const start = this.next;
    let perLevel = 0;
    const k = this.numClasses;
    for (let l = lo; l <= hi; l++) {
      perLevel = this.sharedLevel(l, lo, start, perLevel);
      s.enterScope('p', l);
      const x = this.pyramid[l]!;
      let cls = x;
      for (let i = 0; i < 4; i++) {
        s.enterScope('cls_conv', i);
        cls = this.act('relu', this.conv('conv', cls, channels, 3, 1, 1, 1, true), 'relu');
        s.exitScope();
      }
      let reg = x;
      for (let i = 0; i < 4; i++) {
        s.enterScope('reg_conv', i);
        reg = this.act('relu', this.conv('conv', reg, channels, 3, 1, 1, 1, true), 'relu');
        s.exitScope();
      }
      s.output('head.cls', l, this.conv('retina_cls', cls, RETINA_ANCHORS * k, 3, 1, 1, 1, true));
      s.output('head.reg', l, this.conv('retina_reg', reg, RETINA_ANCHORS * 4, 3, 1, 1, 1, true));
      s.exitScope();
    }
    this.shareOffset = 0;
  }

  // ---- R-CNN heads (per RoI) ----------------------------------------------------------------------

  /**
   * Faster R-CNN (one stage, class-specific boxes) or Cascade R-CNN (n stages, each its own weights,
   * class-agnostic boxes). FPN: RoIAlign 7x7 over P_lo..P_top (top = min(end, 5); P6 feeds only the
   * RPN/RetinaNet, as mmdetection's featmap_strides stop at 32), then mmdetection's
   * Shared2FCBBoxHead. The level map is mmdetection's, counted from the finest level used: a RoI of
   * scale sqrt(wh) < 112 goes to P_lo, < 224 to P_lo+1, < 448 to P_lo+2, else P_lo+3, clamped to
   * P_top (with lo = 2, exactly mmdetection's P2..P5). C4: RoIAlign 14x14 on C4, a copy of backbone
   * stage 4 (first block stride 2, so 7x7), global avg pool.
   */
  private rcnnHeads(c4: boolean, lo: number, top: number, faster: boolean, stages: number, channels: number): void {
    const s = this.s;
    const k = this.numClasses;
    const inputs: number[] = [];
    const scales: number[] = [];
    for (let l = lo; l <= top; l++) {
      inputs.push(this.pyramid[l]!);
      scales.push(1 / 2 ** l);
    }
    const c = this.cs[inputs[0]!]!;
    const size = c4 ? 14 : 7;
    for (let t = 0; t < stages; t++) {
      s.beginModule(HEAD_STAGE_MODULES[t]!, true);
      const roi = this.alloc(c, size, size);
      s.roiAlign(roi, 'roi_align', inputs, c, size, 0, scales, ROI_FINEST_SCALE);
      let x: number;
      if (c4) {
        s.enterScope('shared_head', -1);
        x = this.stage(roi, 3);
        s.exitScope();
        x = this.flatten('flatten', this.globalAvgPool('avgpool', x));
      } else {
        x = this.flatten('flatten', roi);
        x = this.act('relu1', this.linear('fc1', x, 4 * channels), 'relu');
        x = this.act('relu2', this.linear('fc2', x, 4 * channels), 'relu');
      }
      s.output('head.cls', t + 1, this.linear('fc_cls', x, k + 1));
      s.output('head.reg', t + 1, this.linear('fc_reg', x, faster ? 4 * k : 4));
    }
  }
}

let idle: Lowerer | undefined = new Lowerer();

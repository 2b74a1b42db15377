import { describe, expect, it } from 'vitest';
import type { Architecture } from './architecture.js';
import { ArchValidationError } from './errors.js';
import { validateArchitecture, validateInputSize, type ValidateOptions } from './validate.js';

// mmdetection's cascade_rcnn_r50_fpn_1x: ResNet-50, FPN P2..P6 at 256, RPN, 3 stages, 1333x800.
const cascade: Architecture = {
  backbone: { kind: 'resnet50', baseChannels: 64, blocks: '111-2111-211111-211' },
  neck: { kind: 'fpn', startLevel: 2, endLevel: 6, channels: 256, extraSource: 'c5' },
  rpn: 'rpn',
  head: { kind: 'cascade_rcnn', stages: 3, channels: 256 },
  input: { widthPx: 1333, heightPx: 800 },
};

// The cases write wrong types on purpose, which only `any` allows without a cast per line.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Record<string, any>;

function edit(f: (a: Loose) => void): unknown {
  const a = structuredClone(cascade) as unknown as Loose;
  f(a);
  return a;
}

function errorOf(x: unknown, options?: ValidateOptions): ArchValidationError {
  try {
    validateArchitecture(x, options);
  } catch (e) {
    if (e instanceof ArchValidationError) return e;
    throw e;
  }
  throw new Error('expected an ArchValidationError');
}

describe('validateArchitecture', () => {
  it('accepts a standard model in every space and returns a copy without extra fields', () => {
    for (const space of ['structural', 'modular', 'any'] as const) {
      const out = validateArchitecture({ ...cascade, extra: 1 }, { space });
      expect(out).toEqual(cascade);
      expect(out.backbone).not.toBe(cascade.backbone);
    }
  });

  it.each([
    ['empty object', {}, 'backbone', /backbone: missing/],
    ['null', null, 'architecture', /expected an object, got null/],
    ['unknown backbone', edit((a) => (a.backbone.kind = 'resnet51')), 'backbone.kind', /unknown backbone "resnet51"/],
    ['backbone kind as number', edit((a) => (a.backbone.kind = 3)), 'backbone.kind', /unknown backbone 3/],
    [
      'three stages',
      edit((a) => (a.backbone.blocks = '11-21-21')),
      'backbone.blocks',
      /^backbone\.blocks: expected 4 stages separated by '-', got 3 \("11-21-21"\)$/,
    ],
    ['blocks missing', edit((a) => delete a.backbone.blocks), 'backbone.blocks', /got nothing/],
    ['base channels as string', edit((a) => (a.backbone.baseChannels = '64')), 'backbone.base_channels', /expected an integer, got "64"/],
    ['base channels not a multiple of 8', edit((a) => (a.backbone.baseChannels = 60)), 'backbone.base_channels', /multiple of 8/],
    ['neck missing', edit((a) => delete a.neck), 'neck', /missing/],
    ['neck kind unknown', edit((a) => (a.neck.kind = 'bifpn')), 'neck.kind', /unknown neck "bifpn", expected one of c4, fpn/],
    ['FPN levels reversed', edit((a) => Object.assign(a.neck, { startLevel: 5, endLevel: 3 })), 'neck.end_level', /above neck.start_level \(5\)/],
    ['FPN levels equal', edit((a) => Object.assign(a.neck, { startLevel: 4, endLevel: 4 })), 'neck.end_level', /above/],
    ['FPN level 8', edit((a) => (a.neck.endLevel = 8)), 'neck.end_level', /from 2 to 7, got 8/],
    ['FPN starting above the backbone', edit((a) => Object.assign(a.neck, { startLevel: 6, endLevel: 7 })), 'neck.start_level', /from 1 to 5 .*got 6/],
    ['extra levels from P5 without extra levels', edit((a) => Object.assign(a.neck, { endLevel: 5, extraSource: 'p5' })), 'neck.extra_source', /needs neck.end_level 6 or 7, got 5/],
    ['unknown extra source', edit((a) => Object.assign(a.neck, { extraSource: 'p4' })), 'neck.extra_source', /unknown fpn extra source "p4"/],
    ['FPN level 0', edit((a) => (a.neck.startLevel = 0)), 'neck.start_level', /from 1 to 5 .*got 0/],
    ['rpn unknown', edit((a) => (a.rpn = 'ssd')), 'rpn', /unknown proposal generator "ssd"/],
    ['retinanet behind an rpn', edit((a) => Object.assign(a, { rpn: 'rpn', head: { kind: 'retinanet', stages: 0, channels: 256 } })), 'rpn', /one-stage/],
    ['cascade without proposals', edit((a) => (a.rpn = 'none')), 'rpn', /pools proposals/],
    ['cascade with 5 stages', edit((a) => (a.head.stages = 5)), 'head.stages', /2 to 4 R-CNN stage\(s\), got 5/],
    ['faster rcnn with 2 stages', edit((a) => (a.head = { kind: 'faster_rcnn', stages: 2, channels: 256 })), 'head.stages', /faster_rcnn has 1/],
    ['head channels too wide', edit((a) => (a.head.channels = 2048)), 'head.channels', /16 to 1024, got 2048/],
    ['input 0x0', edit((a) => (a.input = { widthPx: 0, heightPx: 0 })), 'input.width_px', /from 32 to 4096 px, got 0/],
    ['input 100000x100000', edit((a) => (a.input = { widthPx: 100000, heightPx: 100000 })), 'input.width_px', /got 100000/],
    ['input height fractional', edit((a) => (a.input.heightPx = 800.5)), 'input.height_px', /expected an integer, got 800.5/],
    ['input as array', edit((a) => (a.input = [1333, 800])), 'input', /got an array/],
  ])('%s names %s', (_name, x, field, message) => {
    const e = errorOf(x);
    expect(e.field).toBe(field);
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message.startsWith(`${field}: `)).toBe(true);
    expect(e.message).toMatch(message);
  });

  it('ignores FPN fields on a C4 neck (a wire message carries zeros there)', () => {
    const out = validateArchitecture(edit((a) => (a.neck = { kind: 'c4', startLevel: 0, endLevel: 0, channels: 0 })));
    expect(out.neck).toEqual({ kind: 'c4' });
  });

  describe('structural space', () => {
    it.each([
      ['non-standard blocks', edit((a) => (a.backbone.blocks = '11-2111-211111-211')), 'backbone.blocks'],
      ['base 56', edit((a) => (a.backbone.baseChannels = 56)), 'backbone.base_channels'],
      ['FPN 128', edit((a) => (a.neck.channels = 128)), 'neck.channels'],
      ['head 512', edit((a) => (a.head.channels = 512)), 'head.channels'],
      ['input 640x480', edit((a) => (a.input = { widthPx: 640, heightPx: 480 })), 'input.width_px'],
      ['input 800x800', edit((a) => (a.input = { widthPx: 800, heightPx: 800 })), 'input.height_px'],
    ])('rejects %s at %s', (_n, x, field) => {
      expect(errorOf(x, { space: 'structural' }).field).toBe(field);
      // ... all of which 'any' accepts.
      expect(() => validateArchitecture(x)).not.toThrow();
    });
  });

  describe('modular space', () => {
    it('accepts modular widths and blocks', () => {
      const x = edit((a) => {
        a.backbone.baseChannels = 48;
        a.backbone.blocks = '1-2-21111111-2';
        a.neck.channels = 512;
        a.head.channels = 128;
      });
      expect(validateArchitecture(x, { space: 'modular' })).toMatchObject({ backbone: { baseChannels: 48 } });
      expect(errorOf(x, { space: 'structural' }).field).toBe('backbone.base_channels');
    });

    it.each([
      ['base 80', edit((a) => (a.backbone.baseChannels = 80)), 'backbone.base_channels'],
      ['FPN 384', edit((a) => (a.neck.channels = 384)), 'neck.channels'],
      ['head 64', edit((a) => (a.head.channels = 64)), 'head.channels'],
      ['input 1920x1080', edit((a) => (a.input = { widthPx: 1920, heightPx: 1080 })), 'input.width_px'],
    ])('rejects %s at %s', (_n, x, field) => {
      expect(errorOf(x, { space: 'modular' }).field).toBe(field);
    });

    it('bounds doublings per backbone family (ResNet 4, MobileNetV2 6)', () => {
      const five = '2-21-21-22';
      expect(errorOf(edit((a) => (a.backbone.blocks = five)), { space: 'modular' }).message).toMatch(/5 doublings \('2'\), resnet50 allows 1 to 4/);
      const mb = edit((a) => (a.backbone = { kind: 'mobilenet_v2', baseChannels: 64, blocks: five }));
      expect(() => validateArchitecture(mb, { space: 'modular' })).not.toThrow();
    });
  });
});

describe('validateInputSize', () => {
  it('uses the given field prefix', () => {
    expect(() => validateInputSize({ widthPx: 10, heightPx: 10 }, 'fidelity.input')).toThrow(/^fidelity\.input\.width_px: /);
    expect(validateInputSize({ widthPx: 640, heightPx: 480 }, 'x')).toEqual({ widthPx: 640, heightPx: 480 });
  });
});

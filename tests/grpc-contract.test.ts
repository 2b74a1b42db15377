// The searchspace and flops services over real gRPC on 127.0.0.1: the contract as a client sees
// it, including bad input (INVALID_ARGUMENT naming the field, and the server keeps serving).
import { startFlopsServer } from '@sm-nas/flops-service';
import { common, flops, searchspace } from '@sm-nas/proto';
import { startSearchSpaceServer } from '@sm-nas/searchspace';
import type { RunningServer } from '@sm-nas/service-kit';
import { ClientError, Status, createChannel, createClient, type Channel, type Client } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const quiet = { info: () => {}, error: () => {} };
const servers: RunningServer[] = [];
const channels: Channel[] = [];
let space: Client<typeof searchspace.SearchSpaceServiceDefinition>;
let counter: Client<typeof flops.FlopsServiceDefinition>;

beforeAll(async () => {
  const s = await startSearchSpaceServer({ host: '127.0.0.1', port: 0, logger: quiet });
  const f = await startFlopsServer({ host: '127.0.0.1', port: 0, logger: quiet });
  servers.push(s, f);
  channels.push(createChannel(s.address), createChannel(f.address));
  space = createClient(searchspace.SearchSpaceServiceDefinition, channels[0]!);
  counter = createClient(flops.FlopsServiceDefinition, channels[1]!);
});

afterAll(async () => {
  for (const c of channels) c.close();
  await Promise.all(servers.map((s) => s.shutdown({ graceMs: 1000 })));
});

const { BackboneKind, NeckKind, RpnKind, HeadKind, SearchStage } = common;

function resnet18Retina(): common.Architecture {
  return {
    backbone: { kind: BackboneKind.BACKBONE_KIND_RESNET18, baseChannels: 64, blocks: '11-21-21-21' },
    neck: { kind: NeckKind.NECK_KIND_FPN, startLevel: 3, endLevel: 6, channels: 256, extraSource: 0 },
    rpn: RpnKind.RPN_KIND_NONE,
    head: { kind: HeadKind.HEAD_KIND_RETINANET, stages: 0, channels: 256 },
    input: { widthPx: 800, heightPx: 600 },
  };
}

async function statusOf(call: Promise<unknown>): Promise<{ code: Status; details: string }> {
  try {
    await call;
  } catch (err) {
    if (err instanceof ClientError) return { code: err.code, details: err.details };
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('searchspace over gRPC', () => {
  it('samples deterministically for a seed, and differently for another seed', async () => {
    const stage = SearchStage.SEARCH_STAGE_STRUCTURAL;
    const a = await space.sample({ stage, count: 20, seed: 7 });
    const b = await space.sample({ stage, count: 20, seed: 7 });
    const c = await space.sample({ stage, count: 20, seed: 8 });
    expect(a.architectures.map((x) => x.id)).toEqual(b.architectures.map((x) => x.id));
    expect(a.architectures.map((x) => x.id)).not.toEqual(c.architectures.map((x) => x.id));
    expect(new Set(a.architectures.map((x) => x.id)).size).toBe(20);
  });

  it('mutation and crossover return valid architectures the service itself accepts', async () => {
    const { architectures } = await space.sample({ stage: SearchStage.SEARCH_STAGE_STRUCTURAL, count: 10, seed: 3 });
    for (const [i, parent] of architectures.entries()) {
      for (const stage of [SearchStage.SEARCH_STAGE_STRUCTURAL, SearchStage.SEARCH_STAGE_MODULAR]) {
        const { architecture: child } = await space.mutate({ architecture: parent.architecture, stage, seed: i });
        expect(child!.id).not.toBe(parent.id);
        const checked = await space.validate({ architecture: child!.architecture, stage });
        expect(checked.architecture!.id).toBe(child!.id);
      }
      const other = architectures[(i + 1) % architectures.length]!;
      const { child } = await space.crossover({
        first: parent.architecture,
        second: other.architecture,
        stage: SearchStage.SEARCH_STAGE_STRUCTURAL,
        seed: i,
      });
      await space.validate({ architecture: child!.architecture, stage: SearchStage.SEARCH_STAGE_STRUCTURAL });
    }
  });

  it('takes an architecture as its canonical string, as the README writes it, and gives back the message', async () => {
    const byMessage = await space.validate({ architecture: resnet18Retina(), canonical: '', stage: 0 });
    const byString = await space.validate({ canonical: byMessage.architecture!.canonical, stage: 0 });
    expect(byString.architecture).toEqual(byMessage.architecture);
    // The README's example: the standard Cascade R-CNN R50-FPN at 1333x800.
    const readme = await space.validate({ canonical: 'resnet50:64:111-2111-211111-211/fpn:2-6:256/rpn/cascade_rcnn.3:256/1333x800', stage: SearchStage.SEARCH_STAGE_STRUCTURAL });
    expect(readme.architecture!.architecture!.head).toEqual({ kind: HeadKind.HEAD_KIND_CASCADE_RCNN, stages: 3, channels: 256 });
    const bad = await statusOf(space.validate({ canonical: 'resnet50:64:111-2111-211111-211/fpn:2-9:256/rpn/cascade_rcnn.3:256/1333x800', stage: 0 }));
    expect(bad.code).toBe(Status.INVALID_ARGUMENT);
    expect(bad.details).toMatch(/^canonical\.neck\.\w+: .*\(at position \d+\)$/);
    const both = await statusOf(space.validate({ architecture: resnet18Retina(), canonical: byMessage.architecture!.canonical, stage: 0 }));
    expect(both.details).toBe('canonical: set canonical or architecture, not both');
  });

  it('reports the size of the structural space as GetSpace describes it', async () => {
    const { structural } = await space.getSpace({});
    const size = await space.size({ stage: SearchStage.SEARCH_STAGE_STRUCTURAL });
    // Independent product of GetSpace's own lists: backbones x necks x rpn/head x inputs.
    const necks = structural!.necks;
    expect(necks.filter((n) => n.kind === NeckKind.NECK_KIND_C4)).toHaveLength(structural!.c4Neck ? 1 : 0);
    for (const n of necks.filter((x) => x.kind === NeckKind.NECK_KIND_FPN)) {
      expect(n.startLevel).toBeGreaterThanOrEqual(structural!.fpnMinLevel);
      expect(n.endLevel).toBeLessThanOrEqual(structural!.fpnMaxLevel);
    }
    // Each neck is valid and distinct on the wire.
    expect(new Set(necks.map((n) => JSON.stringify(n))).size).toBe(necks.length);
    const product = structural!.backbones.length * necks.length * structural!.rpnHeads.length * structural!.inputs.length;
    expect(Number(size.countDecimal)).toBe(product);
    expect(structural!.validCombinations).toBe(BigInt(product));
  });
});

describe('bad input gets INVALID_ARGUMENT naming the field, and the server keeps serving', () => {
  const cases: [string, () => Promise<unknown>, string][] = [
    [
      'unknown backbone',
      () => space.validate({ architecture: { ...resnet18Retina(), backbone: { kind: 99 as never, baseChannels: 64, blocks: '' } }, stage: 0 }),
      'architecture.backbone.kind',
    ],
    [
      'block string with 3 stages',
      () => space.validate({ architecture: { ...resnet18Retina(), backbone: { kind: BackboneKind.BACKBONE_KIND_RESNET18, baseChannels: 64, blocks: '11-21-21' } }, stage: 0 }),
      'architecture.backbone.blocks',
    ],
    [
      'FPN levels reversed',
      () => space.mutate({ architecture: { ...resnet18Retina(), neck: { kind: NeckKind.NECK_KIND_FPN, startLevel: 5, endLevel: 3, channels: 256, extraSource: 0 } }, stage: SearchStage.SEARCH_STAGE_STRUCTURAL, seed: 1 }),
      'architecture.neck.',
    ],
    [
      'input 0x0',
      () => counter.count({ architecture: { ...resnet18Retina(), input: { widthPx: 0, heightPx: 0 } }, form: 0, numClasses: 0, proposals: 0 }),
      'architecture.input.',
    ],
    [
      'input 100000x100000 (flops override)',
      () => counter.count({ architecture: resnet18Retina(), input: { widthPx: 100000, heightPx: 100000 }, form: 0, numClasses: 0, proposals: 0 }),
      'input.',
    ],
    ['empty message (validate)', () => space.validate({}), 'architecture'],
    ['empty message (count)', () => counter.count({}), 'architecture'],
    ['empty message (sample)', () => space.sample({}), 'stage'],
    ['sample count 0', () => space.sample({ stage: SearchStage.SEARCH_STAGE_STRUCTURAL, count: 0, seed: 1 }), 'count'],
  ];

  for (const [name, call, field] of cases) {
    it(name, async () => {
      const { code, details } = await statusOf(call());
      expect(code).toBe(Status.INVALID_ARGUMENT);
      expect(details.startsWith(field)).toBe(true);
      // Still serving after the bad request.
      const ok = await space.validate({ architecture: resnet18Retina(), stage: SearchStage.SEARCH_STAGE_STRUCTURAL });
      expect(ok.architecture!.canonical).toBe('resnet18:64:11-21-21-21/fpn:3-6:256/none/retinanet:256/800x600');
    });
  }
});

describe('flops over gRPC', () => {
  it('reproduces torchvision ResNet-50 in classification form at 224x224', async () => {
    const response = await counter.count({
      architecture: { ...resnet18Retina(), backbone: { kind: BackboneKind.BACKBONE_KIND_RESNET50, baseChannels: 0, blocks: '' } },
      input: { widthPx: 224, heightPx: 224 },
      form: flops.ModelForm.MODEL_FORM_CLASSIFICATION,
      numClasses: 0,
      proposals: 0,
    });
    // torchvision.models.ResNet50_Weights.IMAGENET1K_V1 meta: 4.089 GFLOPS (multiply-adds), 25,557,032 params;
    // the unit-exact count is the one the issue quotes from torchvision's definition.
    expect(response.flopsMultiplyAdds).toBe(4_089_184_256n);
    expect(response.params).toBe(25_557_032n);
  });

  it('breaks a two-stage detector down per module, the total assuming the stated proposals', async () => {
    const arch: common.Architecture = {
      ...resnet18Retina(),
      rpn: RpnKind.RPN_KIND_RPN,
      head: { kind: HeadKind.HEAD_KIND_CASCADE_RCNN, stages: 3, channels: 256 },
    };
    const r = await counter.count({ architecture: arch, form: 0, numClasses: 0, proposals: 500 });
    expect(r.proposals).toBe(500);
    const names = r.modules.map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining(['backbone.stem', 'backbone.stage4', 'neck', 'rpn', 'head.stage1', 'head.stage2', 'head.stage3']));
    expect(r.modules.reduce((s, m) => s + m.flopsMultiplyAdds, 0n)).toBe(r.flopsMultiplyAdds);
    expect(r.modules.reduce((s, m) => s + m.params, 0n)).toBe(r.params);
    const perProposal = r.modules.reduce((s, m) => s + m.perProposalFlopsMultiplyAdds, 0n);
    expect(perProposal).toBe(r.perProposalFlopsMultiplyAdds);
    const r1000 = await counter.count({ architecture: arch, form: 0, numClasses: 0, proposals: 1000 });
    expect(r1000.flopsMultiplyAdds - r.flopsMultiplyAdds).toBe(500n * perProposal);
  });
});

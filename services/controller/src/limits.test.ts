// CreateSearch's operator limits (SM_NAS_MAX_*): they are checked before anything is called or
// journaled, so these tests give the controller no bus and no service clients (any use would throw
// a TypeError, not the asserted status). The mesh-level behaviour of a refused call (the server
// keeps serving) is tests/security-grpc.test.ts's.
import type { Bus } from '@sm-nas/bus';
import { common, controller } from '@sm-nas/proto';
import { DomainError, loadLimits } from '@sm-nas/service-kit';
import { describe, expect, it } from 'vitest';
import type { ServiceClients } from './clients.js';
import { Controller } from './controller.js';
import { validateSpec } from './spec.js';
import type { SearchRecord } from './state.js';

const noClients = {} as ServiceClients;
const limits = loadLimits({ SM_NAS_MAX_POPULATION: '8', SM_NAS_MAX_INPUT_SIDE_PX: '1333', SM_NAS_MAX_CONCURRENT_SEARCHES: '1' });

function spec(overrides: Partial<controller.SearchSpec> = {}): controller.SearchSpec {
  return controller.SearchSpec.fromPartial({
    hardwareClass: 'cpu.test',
    dataset: { source: { $case: 'builtin', value: { seed: 1, trainImages: 8, valImages: 4, imageSizePx: 64 } } },
    fidelity: { maxSteps: 2 },
    algorithm: { name: 'random' },
    structural: { maxCandidates: 4, populationSize: 4 },
    ...overrides,
  });
}

async function refusal(call: Promise<unknown>): Promise<DomainError> {
  const error = await call.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

describe('CreateSearch limits', () => {
  it('refuses a population above SM_NAS_MAX_POPULATION, naming the field and the variable', async () => {
    const e = await refusal(validateSpec(spec({ structural: { maxCandidates: 20, populationSize: 9, paretoModels: 0 } }), noClients, limits));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/^spec\.structural\.population_size: 9 exceeds the limit 8 \(SM_NAS_MAX_POPULATION\)/);
    const m = await refusal(validateSpec(spec({ modular: { maxCandidates: 20, populationSize: 12, paretoModels: 0 } }), noClients, limits));
    expect(m.message).toMatch(/^spec\.modular\.population_size/);
  });

  it('refuses an input side above SM_NAS_MAX_INPUT_SIDE_PX in the constraints or a seed architecture', async () => {
    const e = await refusal(validateSpec(spec({ constraints: { backbones: [], heads: [], necks: [], fpnStartLevels: [], inputs: [{ widthPx: 1080, heightPx: 2000 }] } }), noClients, limits));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/^spec\.constraints\.inputs\[0\]\.height: 2000 exceeds the limit 1333/);
    const seeded = spec({
      initialArchitectures: [{
        backbone: { kind: common.BackboneKind.BACKBONE_KIND_RESNET18, baseChannels: 64, blocks: '11-21-21-21' },
        neck: { kind: common.NeckKind.NECK_KIND_C4, startLevel: 0, endLevel: 0, channels: 0, extraSource: 0 },
        rpn: common.RpnKind.RPN_KIND_NONE,
        head: { kind: common.HeadKind.HEAD_KIND_RETINANET, stages: 0, channels: 256 },
        input: { widthPx: 4000, heightPx: 800 },
      }],
    });
    const s = await refusal(validateSpec(seeded, noClients, limits));
    expect(s.message).toMatch(/^spec\.initial_architectures\[0\]\.input\.width: 4000 exceeds/);
  });

  it('refuses a search beyond SM_NAS_MAX_CONCURRENT_SEARCHES while one is unfinished, and admits once it has ended', async () => {
    const ctl = new Controller({ bus: {} as Bus, clients: noClients, searchspaceAddress: '', limits, logger: { info: () => {}, error: () => {} } });
    const running: SearchRecord = {
      id: 'search-a', spec: spec(), state: controller.SearchState.SEARCH_STATE_RUNNING, stage: common.SearchStage.SEARCH_STAGE_STRUCTURAL,
      budget: controller.Budget.fromPartial({}), reason: '', createTime: new Date(), updateTime: new Date(),
      candidates: new Map(), trainResults: new Map(), finalResults: new Map(), curves: new Map(), stoppedEarly: new Map(), suggestionRounds: 0, fruitlessRounds: 0, log: [], lastSequence: 1, deleted: false, msgPrefix: 'search-a@1',
    };
    ctl.searches.set(running.id, running);
    const e = await refusal(ctl.create({ spec: spec(), searchId: '' }));
    expect(e.code).toBe('RESOURCE_EXHAUSTED');
    expect(e.message).toMatch(/SM_NAS_MAX_CONCURRENT_SEARCHES/);
    // Finished: the next one gets past the limit, through validation up to the suggestion service's
    // ValidateSettings, which this test has no client for.
    running.state = controller.SearchState.SEARCH_STATE_SUCCEEDED;
    const next = await refusal(ctl.create({ spec: spec(), searchId: '' }));
    expect(next.code).toBe('INVALID_ARGUMENT');
    expect(next.message).toMatch(/^spec\.algorithm\.suggestion_address/);
  });
});

// Every `sm-nas` command: its arguments, its options (each declared once, here) and a loader for its
// code. The code loads only when its command runs: help and argument errors never pay for
// TensorFlow.js or the mesh.
import { defineCommand, type Command } from './args.js';
import type { OptionTable } from './options.js';
import { selectBackend } from './backend-arg.js';

const ARCH_FORMS = 'ARCH: a canonical string, JSON (camelCase or snake_case), or @file.';
const toStderr = (line: string) => console.error(line);

// Options several commands share, declared once.
const addr = (service: string, env: string) => ({ type: 'string', value: 'HOST:PORT', description: `the ${service} at this address (else ${env}, else one started in this process)` }) as const;
const json = { type: 'boolean', description: 'print the response as JSON' } as const;
const seed = (fallback: bigint) => ({ type: 'seed', default: fallback, description: 'random seed' }) as const;
const dataDir = { type: 'string', value: 'DIR', default: '.sm-nas', description: 'data directory of the local mesh: JetStream, results' } as const;
const input = { type: 'size', description: 'input size in pixels', defaultNote: "ARCH's own" } as const;
const backend = {
  type: 'string',
  value: 'B',
  description: 'tfjs backend of the service started in this process: auto, webgpu, wasm, cpu or tensorflow',
} as const;
const stage = (required: boolean) => ({ type: 'string', value: 'S', choices: ['structural', 'modular'], required, description: 'search stage' }) as const;
const base = { type: 'string', value: 'ARCH', description: 'the structural architecture a modular stage varies' } as const;
const spaceAddr = addr('searchspace service', 'SEARCHSPACE_ADDR');

export const SPACE_SIZE_OPTIONS = { stage: stage(true), base, addr: spaceAddr, json } as const satisfies OptionTable;
export const SPACE_SAMPLE_OPTIONS = {
  stage: stage(true),
  count: { type: 'number', value: 'N', integer: true, min: 1, default: 10, description: 'how many architectures' },
  seed: seed(0n),
  base,
  addr: spaceAddr,
  json,
} as const satisfies OptionTable;
export const SPACE_VALIDATE_OPTIONS = { stage: stage(false), addr: spaceAddr, json } as const satisfies OptionTable;
export const SPACE_CHANGE_OPTIONS = { stage: stage(true), seed: seed(0n), addr: spaceAddr, json } as const satisfies OptionTable;

export const FLOPS_OPTIONS = {
  input,
  form: { type: 'string', value: 'F', choices: ['detection', 'classification'], default: 'detection', description: 'the whole detector, or the backbone as a classifier' },
  classes: { type: 'number', value: 'N', integer: true, min: 1, description: 'object classes', defaultNote: "the service's" },
  proposals: { type: 'number', value: 'N', integer: true, min: 1, description: 'R-CNN proposals per image', defaultNote: "the service's" },
  addr: addr('flops service', 'FLOPS_ADDR'),
  json,
} as const satisfies OptionTable;

export const TRAIN_OPTIONS = {
  steps: { type: 'number', value: 'N', integer: true, min: 1, description: 'training steps', defaultNote: 'as many as --seconds allows' },
  seconds: { type: 'number', value: 'S', min: 0, description: 'training time limit, 0 for none', defaultNote: '60 without --steps, else 0' },
  'input-scale': { type: 'number', value: 'F', above: 0, description: 'input scale', defaultNote: "ARCH's input scaled to 64 pixels on its longer side" },
  width: { type: 'number', value: 'F', above: 0, description: 'width multiplier', defaultNote: '1 with --pretrained, else 0.25' },
  batch: { type: 'number', value: 'N', integer: true, min: 1, default: 8, description: 'batch size' },
  lr: { type: 'number', value: 'F', above: 0, default: 1e-3, description: 'learning rate' },
  schedule: { type: 'string', value: 'S', choices: ['constant', 'cosine'], default: 'constant', description: 'learning rate schedule' },
  seed: seed(0n),
  images: { type: 'number', value: 'N', integer: true, min: 1, default: 1000, description: 'training images of the built-in dataset' },
  pretrained: { type: 'string', value: 'FILE', description: 'torchvision-named safetensors backbone weights to start from' },
  addr: addr('trainer', 'TRAINER_ADDR'),
  backend,
  json,
} as const satisfies OptionTable;

export const PROFILE_OPTIONS = {
  input,
  batch: { type: 'number', value: 'N', integer: true, min: 1, description: 'batch size', defaultNote: "the profiler's" },
  seconds: { type: 'number', value: 'S', above: 0, description: 'time limit of the measurement', defaultNote: "the profiler's" },
  iterations: { type: 'number', value: 'N', integer: true, min: 1, description: 'timed iterations per round', defaultNote: "the profiler's" },
  cv: { type: 'number', value: 'F', above: 0, max: 1, description: 'coefficient of variation at which to stop', defaultNote: "the profiler's" },
  fresh: { type: 'boolean', description: 'measure even if the cache has a result' },
  class: { type: 'string', value: 'ID', description: 'hardware class to measure on (required with --nats)' },
  nats: { type: 'string', value: 'URL', description: 'ask the profilers of --class through this nats-server (else NATS_URL)' },
  addr: addr('profiler', 'PROFILER_ADDR'),
  backend,
  predict: { type: 'boolean', description: "ask the class's latency predictor instead: a prediction, never a measurement" },
  json,
} as const satisfies OptionTable;

export const SEARCH_OPTIONS = {
  structural: { type: 'number', value: 'N', integer: true, min: 1, default: 12, description: 'structural candidates' },
  modular: { type: 'number', value: 'N', integer: true, min: 0, default: 8, description: 'modular candidates, 0 for the structural stage alone' },
  minutes: { type: 'number', value: 'M', above: 0, default: 19, description: 'wall-clock budget in minutes' },
  parallelism: { type: 'number', value: 'N', integer: true, min: 1, default: 2, description: 'candidates evaluated at once' },
  algorithm: { type: 'string', value: 'NAME', default: 'evolution', description: 'suggestion algorithm' },
  seed: seed(1n),
  out: { type: 'string', value: 'DIR', description: 'results folder', defaultNote: 'DATA_DIR/results/ID' },
  'data-dir': dataDir,
  nats: { type: 'string', value: 'URL', description: 'the services join this nats-server instead of a new one' },
  addr: { type: 'string', value: 'HOST:PORT', description: 'use the controller at this address (else CONTROLLER_ADDR, else the local mesh)' },
  steps: { type: 'number', value: 'N', integer: true, min: 1, description: 'training steps per candidate, instead of the demo fidelity\'s seconds', defaultNote: "the demo fidelity's" },
  'final-seconds': { type: 'number', value: 'S', min: 0, default: 60, description: 'retrain each final Pareto model at full width for S seconds (its weights are the winners); 0 for none' },
  batch: { type: 'number', value: 'N', integer: true, min: 1, description: 'batch size', defaultNote: "the demo fidelity's" },
  images: { type: 'number', value: 'N', integer: true, min: 1, description: 'training images', defaultNote: "the demo fidelity's" },
} as const satisfies OptionTable;

export const DEMO_OPTIONS = {
  count: { type: 'number', value: 'N', integer: true, min: 1, default: 12, description: 'candidates to sample' },
  seed: seed(1n),
  'data-dir': dataDir,
} as const satisfies OptionTable;

export const UP_OPTIONS = { 'data-dir': dataDir } as const satisfies OptionTable;

const space = async () => (await import('./commands/space.js')).spaceCommand;

export const COMMANDS: readonly Command[] = [
  defineCommand({ name: 'space get', args: [], summary: 'choices and bounds of both stages, as JSON', options: { addr: spaceAddr, json }, run: async (v) => (await space())('get', [], v) }),
  defineCommand({ name: 'space size', args: [], summary: 'how many valid architectures a stage holds', options: SPACE_SIZE_OPTIONS, run: async (v) => (await space())('size', [], v) }),
  defineCommand({ name: 'space sample', args: [], summary: 'random valid architectures of a stage', options: SPACE_SAMPLE_OPTIONS, run: async (v) => (await space())('sample', [], v) }),
  defineCommand({ name: 'space validate', args: ['ARCH'], summary: 'checks ARCH (against a stage, with --stage)', details: ARCH_FORMS, options: SPACE_VALIDATE_OPTIONS, run: async (v, a) => (await space())('validate', a, v) }),
  defineCommand({ name: 'space mutate', args: ['ARCH'], summary: 'a random valid neighbour of ARCH', details: ARCH_FORMS, options: SPACE_CHANGE_OPTIONS, run: async (v, a) => (await space())('mutate', a, v) }),
  defineCommand({ name: 'space crossover', args: ['ARCH', 'ARCH'], summary: 'a valid child of two architectures', details: ARCH_FORMS, options: SPACE_CHANGE_OPTIONS, run: async (v, a) => (await space())('crossover', a, v) }),
  defineCommand({
    name: 'flops',
    args: ['ARCH'],
    summary: 'multiply-adds (convolutions and fully connected layers) and parameters of a whole detector, per module',
    details: ARCH_FORMS,
    options: FLOPS_OPTIONS,
    run: async (v, [arch]) => (await import('./commands/flops.js')).flopsCommand(arch, v),
  }),
  defineCommand({
    name: 'train',
    args: ['ARCH'],
    summary: 'trains ARCH on the built-in dataset at a proxy fidelity and prints the COCO metrics of its validation split',
    details: `From scratch, or from a torchvision-named safetensors backbone (--pretrained). ${ARCH_FORMS}`,
    options: TRAIN_OPTIONS,
    run: async (v, [arch]) => {
      const backend = selectBackend(v);
      return (await import('./commands/train.js')).trainCommand(arch, v, toStderr, backend);
    },
  }),
  defineCommand({
    name: 'profile',
    args: ['ARCH'],
    summary: "measures ARCH's inference latency (p50/p90/p99, CV, per module) on a profiler",
    details:
      'Through NATS to the profilers of --class (with --nats or NATS_URL; a class nobody serves fails at once), at --addr\n' +
      `(or PROFILER_ADDR), or on this machine in-process. ${ARCH_FORMS}`,
    options: PROFILE_OPTIONS,
    run: async (v, [arch]) => {
      const backend = selectBackend(v);
      return (await import('./commands/profile.js')).profileCommand(arch, v, backend);
    },
  }),
  defineCommand({
    name: 'search',
    args: [],
    summary: 'a two-stage search on the local mesh (structural: accuracy vs latency; modular: accuracy vs FLOPs)',
    details:
      'On the built-in dataset at the demo fidelity; --steps, --batch and --images lower it for a quick look.\n' +
      'Writes pareto.json, candidates.jsonl, report.html and winners/ (IR + weights) to --out.',
    options: SEARCH_OPTIONS,
    run: async (v) => (await import('./commands/search.js')).searchCommand(v, toStderr),
  }),
  defineCommand({ name: 'up', args: [], summary: 'starts nats-server (JetStream) and the implemented services locally', options: UP_OPTIONS, run: async (v) => (await import('./commands/up.js')).upCommand(v) }),
  defineCommand({
    name: 'demo',
    args: [],
    summary: 'the local mesh end to end: samples candidates and analyses their FLOPs',
    options: DEMO_OPTIONS,
    run: async (v) => (await import('./commands/demo.js')).demoCommand({ dataDir: v['data-dir'], count: v.count, seed: v.seed }),
  }),
];

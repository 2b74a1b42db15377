// A client in another language, generated from proto/ alone (Debian's protoc + grpc_python_plugin,
// run by tests/python/gen.sh), calls the searchspace and flops services. Its answers must equal
// what the TypeScript client gets, and it recomputes the architecture ids from the canonical
// strings with its own SHA-256 (the documented rule), so the id is the same in every language.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFlopsServer } from '@sm-nas/flops-service';
import { common, flops, searchspace } from '@sm-nas/proto';
import { startSearchSpaceServer } from '@sm-nas/searchspace';
import { createChannel, createClient } from 'nice-grpc';
import { afterAll, describe, expect, it } from 'vitest';

const here = fileURLToPath(new URL('.', import.meta.url));
const genDir = mkdtempSync(join(tmpdir(), 'sm-nas-py-'));
afterAll(() => rmSync(genDir, { recursive: true, force: true }));

interface PythonAnswer {
  sampled: { id: string; canonical: string; id_recomputed: string }[];
  /** Sample's canonical strings by seed (decimal), for seeds 2^53, 2^63 and 2^64-1. */
  sampled_by_seed: Record<string, string[]>;
  invalid: { code: string; details: string } | null;
  resnet50_classification: { flops_multiply_adds: number; params: number };
  faster_rcnn_r50_fpn: { flops_multiply_adds: string; params: string; modules: { name: string }[] };
}

describe('a Python client generated from proto/', () => {
  it('calls searchspace and flops and gets what a TypeScript client gets', async () => {
    execFileSync('bash', [join(here, 'python/gen.sh'), genDir], { stdio: 'pipe' });
    const quiet = { info: () => {}, error: () => {} };
    const s = await startSearchSpaceServer({ host: '127.0.0.1', port: 0, logger: quiet });
    const f = await startFlopsServer({ host: '127.0.0.1', port: 0, logger: quiet });
    const channel = createChannel(s.address);
    const flopsChannel = createChannel(f.address);
    try {
      // Asynchronously: the servers answer from this process's event loop.
      const { stdout: out } = await promisify(execFile)(
        '/usr/bin/python3',
        [join(here, 'python/client.py'), genDir, s.address, f.address],
        { encoding: 'utf8', timeout: 60_000 },
      );
      const answer = JSON.parse(out) as PythonAnswer;

      const space = createClient(searchspace.SearchSpaceServiceDefinition, channel);
      const ts = await space.sample({
        stage: common.SearchStage.SEARCH_STAGE_STRUCTURAL,
        count: 5,
        seed: 42,
      });
      expect(answer.sampled.map((a) => a.canonical)).toEqual(ts.architectures.map((a) => a.canonical));
      expect(answer.sampled.map((a) => a.id)).toEqual(ts.architectures.map((a) => a.id));
      for (const a of answer.sampled) expect(a.id_recomputed).toBe(a.id);

      // Python ints are whole uint64s: the seeds past 2^53 sample what a TypeScript bigint seed samples.
      const bySeed: Record<string, string[]> = {};
      for (const seed of [2n ** 53n, 2n ** 63n, 2n ** 64n - 1n]) {
        const r = await space.sample({ stage: common.SearchStage.SEARCH_STAGE_STRUCTURAL, count: 5, seed });
        bySeed[seed.toString()] = r.architectures.map((a) => a.canonical);
      }
      expect(answer.sampled_by_seed).toEqual(bySeed);

      expect(answer.invalid?.code).toBe('INVALID_ARGUMENT');
      expect(answer.invalid?.details).toMatch(/^architecture\.backbone\.blocks: /);

      // torchvision ResNet-50 (the reference, from torchvision's definition).
      expect(answer.resnet50_classification).toEqual({ flops_multiply_adds: 4_089_184_256, params: 25_557_032 });

      const tsCount = await createClient(flops.FlopsServiceDefinition, flopsChannel).count({
        architecture: {
          backbone: { kind: common.BackboneKind.BACKBONE_KIND_RESNET50, baseChannels: 0, blocks: '' },
          neck: { kind: common.NeckKind.NECK_KIND_FPN, startLevel: 2, endLevel: 6, channels: 0, extraSource: 0 },
          rpn: common.RpnKind.RPN_KIND_RPN,
          head: { kind: common.HeadKind.HEAD_KIND_FASTER_RCNN, stages: 0, channels: 0 },
          input: { widthPx: 1333, heightPx: 800 },
        },
      });
      // proto3 JSON writes uint64 as decimal strings.
      expect(answer.faster_rcnn_r50_fpn.flops_multiply_adds).toBe(String(tsCount.flopsMultiplyAdds));
      expect(answer.faster_rcnn_r50_fpn.params).toBe(String(tsCount.params));
      expect(answer.faster_rcnn_r50_fpn.modules.map((m) => m.name)).toEqual(tsCount.modules.map((m) => m.name));
    } finally {
      channel.close();
      flopsChannel.close();
      await Promise.all([s.shutdown({ graceMs: 1000 }), f.shutdown({ graceMs: 1000 })]);
    }
  });
});


// The local mesh (services/cli's startLocalMesh, what `sm-nas up` and `sm-nas search` run) starts
// services/suggestion's main.ts as a separate process next to the searchspace service; without
// SUGGESTION_ALGORITHM it runs every algorithm, the one each spec names, through the
// SuggestionClient. (A server per algorithm, SUGGESTION_ALGORITHM set, is tested in-process in
// services/suggestion.) The other services are left out to keep the test light.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalMesh, type LocalMesh } from '@sm-nas/cli';
import { SuggestionClient } from '@sm-nas/suggestion/client';
import { searchSpec } from '@sm-nas/suggestion/testing';
import { Status, type ClientError } from 'nice-grpc';
import { afterAll, describe, expect, it } from 'vitest';

const dataDir = mkdtempSync(join(tmpdir(), 'sm-nas-mesh-'));
let mesh: LocalMesh | undefined;

afterAll(async () => {
  await mesh?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the local mesh', () => {
  it('runs the suggestion service, every algorithm at one address', { timeout: 120_000 }, async () => {
    mesh = await startLocalMesh({ dataDir, services: ['searchspace', 'suggestion'], log: 'ignore' });
    const client = new SuggestionClient(mesh.addresses.suggestion!);
    try {
      for (const algorithm of ['evolution', 'nsga2', 'random'] as const) {
        await client.validateSettings(searchSpec(algorithm));
        const { accepted, rejected } = await client.getSuggestions({
          spec: searchSpec(algorithm), stage: 'structural', history: [], count: 3, seed: 1, searchspaceAddress: mesh.addresses.searchspace!,
        });
        expect(rejected).toEqual([]);
        expect(accepted).toHaveLength(3);
      }
      const refused = (await client.validateSettings(searchSpec('cmaes')).catch((e: unknown) => e)) as ClientError;
      expect(refused.code).toBe(Status.INVALID_ARGUMENT);
      expect(refused.details).toMatch(/^spec\.algorithm\.name: this service runs "evolution", "nsga2", "random", not "cmaes"/);
    } finally {
      client.close();
    }
  });
});

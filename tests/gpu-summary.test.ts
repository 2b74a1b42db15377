// bench/gpu/summary.ts: the one table a GPU host prints, from results written as the benches
// write them. Pairing is by key, so a row ours has and the peer lacks (or the other way round)
// must not borrow another network's time.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GOALS, summarize } from '../bench/gpu/summary.js';

function resultsDir(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(os.tmpdir(), 'gpu-summary-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), JSON.stringify(content));
  return dir;
}

const line = (table: string, start: string) => table.split('\n').find((l) => l.startsWith(`| ${start}`))?.split(' | ').map((c) => c.replace(/^\| |\s\|$/g, ''));

describe('the GPU bench summary', () => {
  it('pairs ours with the peer by key and judges each goal', () => {
    const keys = ['a', 'b', 'c', 'd'].map((k) => `infer:${k}`);
    // Ours 2x the peer on a, 1.2x on b (goal 1.5x); ranks agree except c and d swapped.
    const ourMs = [20, 12, 40, 30];
    const theirMs = [10, 10, 25, 35];
    const dir = resultsDir({
      'webgpu.json': { hardwareClass: 'gpu.test', rows: [
        { key: 'train:retinanet-r18-fpn', name: 'RetinaNet-R18-FPN train step, batch 8, 512x512, GN+WS, width 1', p50: 500 },
        { key: 'train:cascade-rcnn-r18-fpn', name: 'Cascade R-CNN-R18-FPN x3 train step, batch 8, 512x512, GN+WS, width 1', p50: 900 },
      ] },
      'profile.json': { rows: [
        ...keys.map((key, i) => ({ key, name: key.slice(6), meanP50: ourMs[i], p50s: [ourMs[i]] })),
        { key: 'infer:e', name: 'e', meanP50: 7, p50s: [7, 7.1, 6.9, 7, 7], cvOfP50: 0.011 },
      ] },
      'torch.json': { torch: '2.11', device: 'H200', rows: [
        { key: 'train:retinanet-r18-fpn', name: 'x', p50: 125 },
        ...keys.map((key, i) => ({ key, name: key, meanP50: theirMs[i] })),
        { key: 'infer:e', name: 'e', error: 'RuntimeError: out of memory' },
      ] },
    });
    const table = summarize(dir);
    expect(table.split('\n')[0]).toBe('gpu.test; PyTorch 2.11 on H200');
    expect(line(table, 'RetinaNet-R18-FPN train step')).toEqual(['RetinaNet-R18-FPN train step, batch 8, 512x512', '500.0 ms', '125.0 ms', '4.0', `<= ${GOALS.trainingRatio}x`, 'not met']);
    // No peer for the cascade: no ratio and no goal.
    expect(line(table, 'Cascade')!.slice(2)).toEqual(['-', '-', '-', '-']);
    expect(line(table, 'a inference')!.slice(3)).toEqual(['2.00', '<= 1.5x', 'not met']);
    expect(line(table, 'b inference')!.slice(3)).toEqual(['1.20', '<= 1.5x', 'met']);
    // The peer's failed row is not a time.
    expect(line(table, 'e inference')!.slice(2)).toEqual(['-', '-', '<= 1.5x', 'not measured']);
    // Ranks 2,1,4,3 against 1.5,1.5,3,4 (a and b tie): by hand, Pearson of the ranks is
    // 3.5 / sqrt(5 x 4.5) = 0.738.
    const rho = line(table, 'Spearman')!;
    expect(rho[0]).toBe('Spearman, ours vs PyTorch, 4 of 5 networks');
    expect(Number(rho[3])).toBeCloseTo(3.5 / Math.sqrt(22.5), 3);
    expect(rho.at(-1)).toBe('not met');
    expect(line(table, 'e: CV of p50 over 5 profiles')!.slice(1)).toEqual(['1.10%', '-', '-', '< 2%', 'met']);
  });

  it('says what is missing when a part did not run', () => {
    const table = summarize(resultsDir({}));
    expect(table.split('\n')[0]).toBe('no webgpu results; no PyTorch peer');
    expect(line(table, 'Spearman')!.at(-1)).toBe('not measured');
  });
});

// The hardware-class id <-> subject token map: one-to-one, one token, and malformed ids refused.
import { describe, expect, it } from 'vitest';
import { hardwareClassFromToken, hardwareClassProblem, hardwareClassToken, profileRequest, profileRequestFor, profilerQueueGroup } from './index.js';

describe('hardware class subject tokens', () => {
  const classes = [
    'gpu.nvidia-h100-80gb.tfjs-node-gpu-4.22',
    'cpu.amd-epyc.2c-avx2-fma.wasm-simd-4.22-onednn-2.6',
    'cpu.amd-epyc.2c-avx2-fma.wasm-simd-4.22-onednn-2.6.slot-1',
    'cpu-wasm',
  ];

  it('maps each class to one NATS token and back', () => {
    for (const c of classes) {
      const token = hardwareClassToken(c);
      expect(token).not.toMatch(/[.\s*>]/);
      expect(hardwareClassFromToken(token)).toBe(c);
      const destination = profileRequestFor(c);
      expect(destination.subject.split('.')).toHaveLength(profileRequest.pattern.split('.').length);
      expect(destination.subject).toBe(`nas.profile.request.${token}`);
      // The subject speaks class ids on both ends.
      expect(profileRequest.match(destination.subject)).toEqual({ hardwareClass: c });
      expect(profileRequest.filter({ hardwareClass: c })).toBe(destination.subject);
    }
    // Distinct classes, distinct subjects and queue groups (the two-profilers test relies on it).
    expect(new Set(classes.map(hardwareClassToken)).size).toBe(classes.length);
    expect(new Set(classes.map(profilerQueueGroup)).size).toBe(classes.length);
  });

  it('refuses malformed ids, which could otherwise collide or break the subject', () => {
    for (const bad of ['', 'cpu..x', 'cpu.a_b', 'CPU.x', 'cpu.x*', 'gpu.>', 'a b', '.cpu', 'cpu.', 'x'.repeat(201)]) {
      expect(hardwareClassProblem(bad), bad).toBeDefined();
      expect(() => hardwareClassToken(bad)).toThrow(/hardware class/);
    }
    expect(hardwareClassProblem(classes[0]!)).toBeUndefined();
  });
});

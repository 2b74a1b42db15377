// The fallback path: with SM_NAS_NATIVE=0 the native convolutions stay off (as when
// @sm-nas/native-kernels is not built), and the same gradient checks run on XNNPACK and the composed
// kernels. initBackend reads the variable in grad-kernels.test.ts's beforeAll.
import { expect, it } from 'vitest';
import { backendInfo, describeBackend } from '../backend.js';

process.env.SM_NAS_NATIVE = '0';
await import('./grad-kernels.test.js');

it('reports the native convolutions off, and why', () => {
  const info = backendInfo()!;
  expect(info.native).toBeUndefined();
  expect(info.reason).toContain('native convolutions off: SM_NAS_NATIVE=0');
  expect(describeBackend(info)).not.toContain('oneDNN');
});

import { ConfigError } from '@sm-nas/service-kit';
import { describe, expect, it } from 'vitest';
import { loadTrainerConfig } from './config.js';

describe('the trainer configuration', () => {
  it('stops at a bad tfjs backend variable, before any job', () => {
    let error: unknown;
    try {
      loadTrainerConfig({ SM_NAS_TFJS_BACKEND: 'bogus', SM_NAS_TFJS_THREADS: 'many' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((i) => i.variable)).toEqual(['SM_NAS_TFJS_BACKEND', 'SM_NAS_TFJS_THREADS']);
    expect((error as ConfigError).message).toContain('SM_NAS_TFJS_BACKEND: expected one of auto|wasm|cpu|tensorflow|webgpu, got "bogus"');
  });

  it('parses its defaults from an empty environment', () => {
    const config = loadTrainerConfig({});
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 50054 });
    expect(config.backend.backend).toBe('auto');
    expect(config.deviceLock).toBeUndefined();
    expect(config.nats.url).toBeUndefined();
  });
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['libs/*/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'tests/**/*.test.ts'],
    // Suites start real nats-server and gRPC servers; give slow CI machines room.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Launch environment of the test processes, as the local mesh and the trainer image set it:
    // oneDNN's OpenMP threads sleep between kernels instead of spinning on the shared cores.
    env: { OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'passive' },
  },
});

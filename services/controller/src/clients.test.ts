// The suggestion services a spec may name: their channels stay bounded whatever addresses clients
// send (an open channel per address ever seen grew the controller by ~50 MiB under the fuzz suite).
import type { Bus } from '@sm-nas/bus';
import { describe, expect, it } from 'vitest';
import { MAX_NAMED_SUGGESTION_CHANNELS, ServiceClients } from './clients.js';

describe('suggestion clients', () => {
  it('keeps the default, and at most the most recently used named ones open', () => {
    const clients = new ServiceClients({ flops: '127.0.0.1:2', suggestion: '127.0.0.1:3' }, {} as Bus);
    try {
      const byDefault = clients.suggestion('');
      expect(clients.suggestion('127.0.0.1:3')).toBe(byDefault);
      const kept = clients.suggestion('127.0.0.1:4000');
      for (let port = 5000; port < 5000 + 3 * MAX_NAMED_SUGGESTION_CHANNELS; port++) {
        clients.suggestion(`127.0.0.1:${port}`);
        // Used all along: never the least recently used.
        expect(clients.suggestion('127.0.0.1:4000')).toBe(kept);
      }
      expect(clients.namedSuggestionChannels).toBe(MAX_NAMED_SUGGESTION_CHANNELS);
      expect(clients.suggestion('')).toBe(byDefault);
    } finally {
      clients.close();
    }
  });
});

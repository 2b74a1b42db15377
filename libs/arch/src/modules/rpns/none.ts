// No proposal network: one-stage heads (RetinaNet) predict boxes directly.

import type { RpnFamily } from '../family.js';

export const NO_RPN: RpnFamily = {
  lower() {},
};

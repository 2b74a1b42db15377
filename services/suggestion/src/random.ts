// Random search: unseen uniform samples of the stage's space (modular: of the seeds' modules), the
// baseline every other algorithm must beat.
import { addSamples, Proposals, type ProposeContext } from './propose.js';

export async function proposeRandom(ctx: ProposeContext): Promise<Proposals> {
  const out = new Proposals(ctx.history.seen, ctx.count);
  await addSamples(ctx, out, ctx.count);
  return out;
}

// Gradients of FusedBatchNorm and Mean without tfjs's full-size temporaries. tfjs's own tile the
// [C] inverse deviation to the input's shape (Tile, a scalar loop on wasm: ~30% of a ResNet-50
// step once the convolutions are native), multiply by ones(x.shape), and make one full-size
// product per parameter. The same formulas, reduced first:
//   r = 1/sqrt(var + eps),  xm = x - mean,  S = sum(dy),  P = sum(dy * xm)  (over all but C)
//   dx = dy * (r * scale),  dmean = -r * scale * S,  dvar = -r^3/2 * scale * P,
//   dscale = r * P,  doffset = S
// Mean: dx = dy / n broadcast over the reduced axes (one Fill, one broadcast Add).
import * as tf from '@tensorflow/tfjs-core';

type GradFunc = NonNullable<ReturnType<typeof tf.getGradient>>['gradFunc'];

let registered = false;
let originals: tf.GradConfig[] = [];
let leans: tf.GradConfig[] = [];

/** Registers both gradients once (for every backend: the formulas are tfjs's, only regrouped). */
export function registerLeanGradients(): void {
  if (registered) return;
  const original = tf.getGradient('FusedBatchNorm');
  if (!original || !tf.getGradient('Mean')) return; // tfjs-core's gradients not loaded yet
  registered = true;
  originals = [original, tf.getGradient('Mean')!];
  const fallback: GradFunc = original.gradFunc;
  tf.registerGradient({
    kernelName: 'FusedBatchNorm',
    inputsToSave: ['x', 'mean', 'variance', 'scale'],
    gradFunc: (dy, saved, attrs) => {
      const [x, mean, variance, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
      if (mean.rank !== 1 || variance.rank !== 1 || (scale && scale.rank !== 1) || x.shape[x.rank - 1] !== mean.shape[0]) {
        return fallback(dy, saved, attrs);
      }
      const eps = (attrs as unknown as { varianceEpsilon: number }).varianceEpsilon;
      const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
      const r = tf.rsqrt(tf.add(variance, eps));
      const rScale = scale ? tf.mul(r, scale) : r;
      const d = dy as tf.Tensor;
      // Computed here, not in the closures: tfjs runs each closure in its own tidy scope.
      const sumDy = tf.sum(d, axes);
      const sumDyXm = tf.sum(tf.mul(d, tf.sub(x, mean)), axes);
      return {
        x: () => tf.mul(d, rScale),
        mean: () => tf.mul(tf.neg(rScale), sumDy),
        variance: () => tf.mul(tf.mul(tf.mul(tf.square(r), rScale), -0.5), sumDyXm),
        scale: () => tf.mul(r, sumDyXm),
        offset: () => tf.clone(sumDy),
      };
    },
  });
  tf.registerGradient({
    kernelName: 'Mean',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [tf.Tensor];
      const axes = tf.util.parseAxisParam((attrs as unknown as { axis: number | number[] }).axis, x.shape);
      const expanded = x.shape.map((n, i) => (axes.includes(i) ? 1 : n));
      const n = axes.reduce((a, i) => a * x.shape[i]!, 1);
      return { x: () => tf.add(tf.zeros(x.shape), tf.div(tf.reshape(dy as tf.Tensor, expanded), n)) };
    },
  });
}

/** For tests: tfjs's own gradients (false) or these (true). */
export function useLeanGradients(on: boolean): void {
  if (!registered) throw new Error('registerLeanGradients() first');
  if (leans.length === 0) leans = [tf.getGradient('FusedBatchNorm')!, tf.getGradient('Mean')!];
  for (const config of on ? leans : originals) tf.registerGradient(config);
}

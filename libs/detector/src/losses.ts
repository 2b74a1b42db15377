// RetinaNet's losses in tfjs, written so no one-hot [anchors x classes] target is materialised:
// every (anchor, class) logit takes the background term, the few positive ones are gathered and
// corrected.

import * as tf from '@tensorflow/tfjs-core';
import { RETINA_BOX_CODER, type BoxCoderConfig } from './boxes.js';

export interface FocalLossConfig {
  alpha: number;
  gamma: number;
}

/** mmdetection FocalLoss defaults (RetinaNet). */
export const RETINA_FOCAL: FocalLossConfig = { alpha: 0.25, gamma: 2 };

/**
 * Sigmoid focal loss summed over all (anchor, class) pairs (mmdetection's py_sigmoid_focal_loss,
 * reduction 'sum'): target 1 at `positives`, 0 elsewhere, anchors with weight 0 ignored.
 * @param logits [T, K]
 * @param anchorWeights [T] 1 (counted) or 0 (ignored)
 * @param positives flat indices t * K + k of the positive (anchor, class) pairs
 */
export function sigmoidFocalLossSum(
  logits: tf.Tensor2D, anchorWeights: tf.Tensor1D, positives: tf.Tensor1D, config: FocalLossConfig = RETINA_FOCAL,
): tf.Scalar {
  const { alpha, gamma } = config;
  return tf.tidy(() => {
    // t = 0: -(1-alpha) p^gamma log(1-p) = (1-alpha) p^gamma softplus(x)
    const negative = (x: tf.Tensor): tf.Tensor => tf.mul(tf.mul(tf.pow(tf.sigmoid(x), gamma), tf.softplus(x)), 1 - alpha);
    // t = 1: -alpha (1-p)^gamma log(p) = alpha (1-p)^gamma softplus(-x), and 1 - p = sigmoid(-x)
    const positive = (x: tf.Tensor): tf.Tensor => tf.mul(tf.mul(tf.pow(tf.sigmoid(tf.neg(x)), gamma), tf.softplus(tf.neg(x))), alpha);
    let total = tf.sum(tf.mul(tf.sum(negative(logits), 1), anchorWeights));
    if (positives.size > 0) {
      const xp = tf.gather(tf.reshape(logits, [-1]), positives);
      total = tf.add(total, tf.sum(tf.sub(positive(xp), negative(xp))));
    }
    return total as tf.Scalar;
  });
}

/** Smooth L1 (Huber / beta) summed: 0.5 d² / beta for |d| < beta, |d| - 0.5 beta otherwise. */
export function smoothL1Sum(pred: tf.Tensor, target: tf.Tensor, beta: number): tf.Scalar {
  return tf.tidy(() => {
    const d = tf.abs(tf.sub(pred, target));
    if (beta <= 0) return tf.sum(d) as tf.Scalar;
    // q = min(d, beta): 0.5 q² / beta + (d - q) is both branches at once.
    const q = tf.minimum(d, beta);
    return tf.sum(tf.add(tf.mul(tf.square(q), 0.5 / beta), tf.sub(d, q))) as tf.Scalar;
  });
}

/** Deltas [P, 4] applied to anchors [P, 4] (DeltaXYWHBBoxCoder.decode without clipping to the image). */
export function decodeBoxes(anchors: tf.Tensor2D, deltas: tf.Tensor2D, config: BoxCoderConfig = RETINA_BOX_CODER): tf.Tensor2D {
  return tf.tidy(() => {
    const clip = Math.abs(Math.log(config.whRatioClip));
    const d = tf.add(tf.mul(deltas, tf.tensor1d([...config.stds])), tf.tensor1d([...config.means]));
    const [dx, dy, dw, dh] = tf.split(d, 4, 1);
    const [x1, y1, x2, y2] = tf.split(anchors, 4, 1);
    const pw = tf.sub(x2!, x1!);
    const ph = tf.sub(y2!, y1!);
    const px = tf.add(x1!, tf.mul(pw, 0.5));
    const py = tf.add(y1!, tf.mul(ph, 0.5));
    const gw = tf.mul(pw, tf.exp(tf.clipByValue(dw!, -clip, clip)));
    const gh = tf.mul(ph, tf.exp(tf.clipByValue(dh!, -clip, clip)));
    const gx = tf.add(px, tf.mul(pw, dx!));
    const gy = tf.add(py, tf.mul(ph, dy!));
    return tf.concat([tf.sub(gx, tf.mul(gw, 0.5)), tf.sub(gy, tf.mul(gh, 0.5)), tf.add(gx, tf.mul(gw, 0.5)), tf.add(gy, tf.mul(gh, 0.5))], 1) as tf.Tensor2D;
  });
}

/** mmdetection GIoULoss, summed: 1 - GIoU of boxes [P, 4] against targets [P, 4] (eps 1e-6). */
export function giouLossSum(pred: tf.Tensor2D, target: tf.Tensor2D, eps = 1e-6): tf.Scalar {
  return tf.tidy(() => {
    const [px1, py1, px2, py2] = tf.split(pred, 4, 1);
    const [tx1, ty1, tx2, ty2] = tf.split(target, 4, 1);
    const area1 = tf.mul(tf.sub(px2!, px1!), tf.sub(py2!, py1!));
    const area2 = tf.mul(tf.sub(tx2!, tx1!), tf.sub(ty2!, ty1!));
    const iw = tf.relu(tf.sub(tf.minimum(px2!, tx2!), tf.maximum(px1!, tx1!)));
    const ih = tf.relu(tf.sub(tf.minimum(py2!, ty2!), tf.maximum(py1!, ty1!)));
    const overlap = tf.mul(iw, ih);
    const union = tf.maximum(tf.sub(tf.add(area1, area2), overlap), eps);
    const ious = tf.div(overlap, union);
    const ew = tf.relu(tf.sub(tf.maximum(px2!, tx2!), tf.minimum(px1!, tx1!)));
    const eh = tf.relu(tf.sub(tf.maximum(py2!, ty2!), tf.minimum(py1!, ty1!)));
    const enclose = tf.maximum(tf.mul(ew, eh), eps);
    const giou = tf.sub(ious, tf.div(tf.sub(enclose, union), enclose));
    return tf.sum(tf.sub(1, giou)) as tf.Scalar;
  });
}

// fvcore's convention (torchvision's published GFLOPS): multiply-adds of convolutions (deformable
// ones alike) and linear layers only; norms, activations, pooling, bias, add, resize and RoIAlign
// count nothing. Parameters: conv/linear weights and biases, norm affine weight and bias (2*C;
// frozen BN too, as torchvision counts BN weight+bias); running statistics are buffers.

import type { LayerNode } from '@sm-nas/arch/graph';

export function convMultiplyAdds(inChannels: number, outChannels: number, kernel: number, groups: number, outHeight: number, outWidth: number): number {
  return outHeight * outWidth * outChannels * (inChannels / groups) * kernel * kernel;
}

export function convParams(inChannels: number, outChannels: number, kernel: number, groups: number, bias: boolean): number {
  return outChannels * (inChannels / groups) * kernel * kernel + (bias ? outChannels : 0);
}

export function linearParams(inFeatures: number, outFeatures: number, bias: boolean): number {
  return inFeatures * outFeatures + (bias ? outFeatures : 0);
}

export function normParams(channels: number, affine: boolean): number {
  return affine ? 2 * channels : 0;
}

/** Multiply-adds of one node (per RoI for per-RoI nodes). */
export function nodeMultiplyAdds(node: LayerNode): number {
  switch (node.op) {
    case 'conv2d':
    case 'deform_conv2d':
      return convMultiplyAdds(node.inChannels, node.outChannels, node.kernel, node.groups, node.shape[1], node.shape[2]);
    case 'linear':
      return node.inFeatures * node.outFeatures;
    default:
      return 0;
  }
}

/** Parameters a node owns (0 when it reuses another node's weights). */
export function nodeParams(node: LayerNode): number {
  switch (node.op) {
    case 'conv2d':
    case 'deform_conv2d':
      return node.weightsOf >= 0 ? 0 : convParams(node.inChannels, node.outChannels, node.kernel, node.groups, node.bias);
    case 'linear':
      return node.weightsOf >= 0 ? 0 : linearParams(node.inFeatures, node.outFeatures, node.bias);
    case 'norm':
      return node.weightsOf >= 0 ? 0 : normParams(node.channels, node.affine);
    default:
      return 0;
  }
}

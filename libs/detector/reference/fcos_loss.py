#!/usr/bin/python3
"""Independent reference for libs/detector's FCOS head (run with Debian's python3-torch 1.13 /
python3-torchvision 0.14: `/usr/bin/python3 libs/detector/reference/fcos_loss.py`).

torchvision's own FCOS.compute_loss (matching by centre sampling and scale ranges, then
FCOSHead.compute_loss: sigmoid focal, GIoU and centerness BCE) on a 128x128 batch of two images
with levels P3..P5 (16x16, 8x8, 4x4) and 3 classes. The head outputs are a closed formula both this
script and the TypeScript test compute, so no tensors are pasted; prints the matched box of every
point and the three losses as JSON.
"""
import json
import math

import torch
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.fcos import FCOS
from torchvision.models.detection.image_list import ImageList

SIZE, K = 128, 3
GRIDS = [16, 8, 4]
BOXES = [
    ([[4, 6, 30, 34], [20, 16, 60, 62], [40, 4, 52, 14]], [0, 1, 2]),
    ([[10, 10, 50, 40], [2, 40, 20, 62], [4, 8, 124, 120]], [2, 0, 1]),
]


def outputs(n_images, points):
    """The formula of fcos.test.ts: p is the point's index over all levels, row-major per level."""
    cls = torch.tensor([[[2 * math.sin(0.7 * p + 1.3 * c + 2.1 * n) - 2 for c in range(K)] for p in range(points)] for n in range(n_images)])
    reg = torch.tensor([[[0.5 + 0.4 * math.sin(0.3 * p + 0.9 * c + 0.5 * n) for c in range(4)] for p in range(points)] for n in range(n_images)])
    ctr = torch.tensor([[[math.sin(0.45 * p + 1.7 * n)] for p in range(points)] for n in range(n_images)])
    return {'cls_logits': cls, 'bbox_regression': reg, 'bbox_ctrness': ctr}


def main():
    torch.set_grad_enabled(False)
    anchor_gen = AnchorGenerator(sizes=((8,), (16,), (32,)), aspect_ratios=((1.0,),) * 3)
    # FCOS's constructor wants only a backbone with out_channels; compute_loss never runs it.
    backbone = torch.nn.Module()
    backbone.out_channels = 32
    model = FCOS(backbone, num_classes=K, anchor_generator=anchor_gen)
    images = ImageList(torch.zeros(2, 3, SIZE, SIZE), [(SIZE, SIZE)] * 2)
    feats = [torch.zeros(2, 32, g, g) for g in GRIDS]
    anchors = anchor_gen(images, feats)
    num_per_level = [g * g for g in GRIDS]
    targets = [{'boxes': torch.tensor(b, dtype=torch.float32), 'labels': torch.tensor(l)} for b, l in BOXES]
    captured = {}
    original = model.head.compute_loss

    def capture(targets, head_outputs, anchors, matched_idxs):
        captured['matched'] = [m.tolist() for m in matched_idxs]
        return original(targets, head_outputs, anchors, matched_idxs)

    model.head.compute_loss = capture
    losses = model.compute_loss(targets, outputs(2, sum(num_per_level)), anchors, num_per_level)
    print(json.dumps({
        'anchorsOfImage0': anchors[0][:3].tolist(),
        # [point, box] of every matched point, per image
        'matched': [[[p, g] for p, g in enumerate(m) if g >= 0] for m in captured['matched']],
        'losses': {k: v.item() for k, v in losses.items()},
    }, indent=1))


if __name__ == '__main__':
    main()

#!/usr/bin/python3
"""torchvision Faster R-CNN-ResNet-18-FPN trained from scratch: the PyTorch side of the two-stage
learning benchmark (bench/learning/two-stage.ts runs it).

torchvision.models.detection.FasterRCNN itself (its RPN, RoI sampling, losses, MultiScaleRoIAlign,
TwoMLPHead, postprocessing), on the backbone libs/detector trains from scratch for
`resnet18:64:11-21-21-21/fpn:2-6:C/rpn/faster_rcnn:C/SxS`:

- torchvision resnet18 with every conv weight-standardised and every norm GroupNorm (the same
  modules as pytorch_retinanet.py: mmdetection's GN + WS for training from scratch);
- torchvision FeaturePyramidNetwork on C2..C5 + P6 = conv3x3/2 on C5 (mmdetection add_extra_convs
  'on_input'), xavier-uniform init; RPN on P2..P6, RoIAlign 7x7 on P2..P5 (torchvision's level
  mapper is mmdetection's rule: < 112 px -> P2, < 224 -> P3, < 448 -> P4, else P5);
- anchors 32..512 (stride x 8) x ratios 0.5/1/2 (mmdetection's scale 8), RPN 256 anchors per image
  half positive at 0.7/0.3, proposals: 2000 best per level before NMS 0.7, 1000 kept (test 1000/1000);
  R-CNN: ground truths added, --rois sampled per image a quarter positive at IoU 0.5, TwoMLPHead of
  4 x C units, class-specific boxes with stds 0.1/0.2; test: score 0.05, NMS 0.5, 100 per image.

Where torchvision differs from libs/detector (mmdetection) and we keep torchvision's: box losses are
smooth-L1 with beta 1/9 (mmdetection: L1), RoIAlign samples 2 x 2 per bin (mmdetection: adaptive),
RPN proposals are NMSed per level after a top-n over the level (same), the RPN keeps its top
post_nms_top_n over levels (same). Images arrive letterboxed and normalised as libs/data makes them;
GeneralizedRCNNTransform is configured to change nothing (size = input, mean 0, std 1).

Usage: /usr/bin/python3 bench/learning/pytorch_faster_rcnn.py --train DIR --val DIR --out DIR
    --budget 300 --checkpoints 60,120  (see pytorch_retinanet.py for the common options)
"""
import argparse
import json
import math
import os
import random
import sys
import time
from collections import OrderedDict

import numpy as np
import torch
from torch import nn
from torchvision.models import resnet18
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import TwoMLPHead
from torchvision.ops import FeaturePyramidNetwork, MultiScaleRoIAlign

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_retinanet import P6FromC5, group_norm, load_split, make_batch, to_ws  # noqa: E402


class Backbone(nn.Module):
    """resnet18 (GN + WS) -> FPN P2..P5 + P6 on C5, as an OrderedDict torchvision's heads read."""

    def __init__(self, channels):
        super().__init__()
        r = resnet18(weights=None, norm_layer=group_norm)
        to_ws(r)
        self.stem = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool)
        self.layer1, self.layer2, self.layer3, self.layer4 = r.layer1, r.layer2, r.layer3, r.layer4
        self.fpn = FeaturePyramidNetwork([64, 128, 256, 512], channels, extra_blocks=P6FromC5(512, channels))
        for m in self.fpn.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        self.out_channels = channels

    def forward(self, x):
        c2 = self.layer1(self.stem(x))
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        feats = self.fpn(OrderedDict([('0', c2), ('1', c3), ('2', c4), ('3', c5)]))
        return OrderedDict(zip(['0', '1', '2', '3', 'p6'], feats.values()))


def build(num_classes, channels, head_channels, size, rois, proposals=1000):
    backbone = Backbone(channels)
    anchors = AnchorGenerator(sizes=((32,), (64,), (128,), (256,), (512,)), aspect_ratios=((0.5, 1.0, 2.0),) * 5)
    roi_pool = MultiScaleRoIAlign(['0', '1', '2', '3'], 7, sampling_ratio=2)
    head = TwoMLPHead(channels * 49, 4 * head_channels)
    model = FasterRCNN(
        backbone, num_classes=num_classes + 1,  # torchvision: class 0 is background
        min_size=size, max_size=size, image_mean=[0.0, 0.0, 0.0], image_std=[1.0, 1.0, 1.0],
        rpn_anchor_generator=anchors, rpn_pre_nms_top_n_train=2000, rpn_pre_nms_top_n_test=1000,
        rpn_post_nms_top_n_train=proposals, rpn_post_nms_top_n_test=proposals, rpn_nms_thresh=0.7,
        rpn_fg_iou_thresh=0.7, rpn_bg_iou_thresh=0.3, rpn_batch_size_per_image=256, rpn_positive_fraction=0.5,
        box_roi_pool=roi_pool, box_head=head, box_score_thresh=0.05, box_nms_thresh=0.5, box_detections_per_img=100,
        box_fg_iou_thresh=0.5, box_bg_iou_thresh=0.5, box_batch_size_per_image=rois, box_positive_fraction=0.25,
    )
    # mmdetection's heads (libs/detector): RPN convs normal(0, 0.01); shared FCs xavier; fc_cls
    # normal(0, 0.01); fc_reg normal(0, 0.001) (torchvision: the same for RPN, default Linear init).
    for m in head.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    nn.init.normal_(model.roi_heads.box_predictor.cls_score.weight, std=0.01)
    nn.init.normal_(model.roi_heads.box_predictor.bbox_pred.weight, std=0.001)
    return model


def evaluate(model, val, category_ids, label_of, W, H, batch_size):
    coco, _, _ = val
    ids = [im['id'] for im in coco['images']]
    dets = []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(ids), batch_size):
            chunk = ids[start:start + batch_size]
            x, _, transforms = make_batch((coco['images'],) + val[1:], chunk, label_of, W, H, [False] * len(chunk))
            outs = model(list(x))
            for i, o, (sc, ox, oy) in zip(chunk, outs, transforms):
                for box, score, label in zip(o['boxes'].tolist(), o['scores'].tolist(), o['labels'].tolist()):
                    x1, y1 = (box[0] - ox) / sc, (box[1] - oy) / sc
                    dets.append({'image_id': i, 'category_id': category_ids[label - 1],
                                 'bbox': [x1, y1, (box[2] - ox) / sc - x1, (box[3] - oy) / sc - y1], 'score': score})
    model.train()
    return dets


def bench_step(cfg):
    """Median milliseconds of one SGD-momentum training step on a fixed batch (bench/train-step-two-stage.ts)."""
    torch.set_num_threads(cfg['threads'])
    torch.manual_seed(0)
    model = build(cfg['classes'], cfg['fpn'], cfg['head'], cfg['size'], cfg['rois'])
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    x = list(torch.randn(cfg['batch'], 3, cfg['size'], cfg['size']))
    targets = [{'boxes': torch.tensor(b, dtype=torch.float32).reshape(-1, 4), 'labels': torch.tensor(l) + 1}
               for b, l in zip(cfg['boxes'], cfg['labels'])]
    times = []
    for i in range(cfg['warmup'] + cfg['steps']):
        t0 = time.perf_counter()
        loss = sum(model(x, targets).values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= cfg['warmup']:
            times.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'ms': sorted(times)[len(times) // 2],
                      'params': sum(p.numel() for p in model.parameters())}))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == '--bench-step':
        return bench_step(json.loads(sys.argv[2]))
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--train', required=True)
    p.add_argument('--val', required=True)
    p.add_argument('--out', required=True)
    p.add_argument('--budget', type=float, default=300)
    p.add_argument('--checkpoints', default='')
    p.add_argument('--input', type=int, default=128)
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--wd', type=float, default=1e-4)
    p.add_argument('--adam-eps', type=float, default=1e-8)
    p.add_argument('--warmup-steps', type=int, default=0)
    p.add_argument('--grad-clip', type=float, default=35.0)
    p.add_argument('--fpn-channels', type=int, default=256)
    p.add_argument('--head-channels', type=int, default=256, help='TwoMLPHead has 4x this many units')
    p.add_argument('--rois', type=int, default=512, help='RoIs sampled per image (box_batch_size_per_image)')
    p.add_argument('--proposals', type=int, default=1000, help='proposals per image after NMS, training and test (rpn_post_nms_top_n_*)')
    p.add_argument('--no-flip', action='store_true')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--eval-batch', type=int, default=16)
    p.add_argument('--log-every', type=float, default=10.0)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)
    W = H = args.input
    checkpoints = sorted({float(c) for c in args.checkpoints.split(',') if c.strip() and float(c) < args.budget} | {args.budget})

    train = load_split(args.train)
    val = load_split(args.val)
    category_ids = sorted(c['id'] for c in train[0]['categories'])
    label_of = {c: i for i, c in enumerate(category_ids)}
    train_split = (train[0]['images'],) + train[1:]
    train_ids = [im['id'] for im in train[0]['images']]

    model = build(len(category_ids), args.fpn_channels, args.head_channels, args.input, args.rois, args.proposals)
    params = sum(p.numel() for p in model.parameters())
    print(f'torchvision FasterRCNN R18-FPN{args.fpn_channels}: {params:,} params, {args.rois} RoIs/image', flush=True)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': args.wd}, {'params': no_decay, 'weight_decay': 0.0}],
                            lr=args.lr, eps=args.adam_eps)
    manifest = {'framework': f'pytorch {torch.__version__}, torchvision {__import__("torchvision").__version__}',
                'threads': args.threads, 'params': params, 'args': vars(args), 'checkpoints': []}

    def write_manifest():
        with open(os.path.join(args.out, 'manifest.json'), 'w') as f:
            json.dump(manifest, f, indent=1)

    train_seconds = 0.0
    step = images_seen = epoch = 0
    last_log = 0.0
    next_ckpt = 0
    model.train()
    done = False
    while not done:
        order = rng.permutation(len(train_ids))
        flips = rng.random(len(train_ids)) < 0.5
        for start in range(0, len(order) - args.batch + 1, args.batch):
            sel = order[start:start + args.batch]
            x, targets, _ = make_batch(train_split, [train_ids[i] for i in sel], label_of, W, H,
                                       [False if args.no_flip else bool(flips[i]) for i in sel])
            # Training seconds are the step's (forward, backward, update): batch preparation is
            # excluded, as the trainer's trainSeconds exclude it on the other side.
            t0 = time.perf_counter()
            warm = min(1.0, 0.001 + (1 - 0.001) * step / args.warmup_steps) if args.warmup_steps > 0 else 1.0
            for g in opt.param_groups:
                g['lr'] = args.lr * warm
            losses = model(list(x), [{'boxes': b, 'labels': l + 1} for b, l in targets])
            loss = sum(losses.values())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip if args.grad_clip > 0 else float('inf'))
            opt.step()
            train_seconds += time.perf_counter() - t0
            step += 1
            images_seen += len(sel)
            if not math.isfinite(float(loss)):
                manifest['failure'] = f'non-finite loss at step {step}'
                write_manifest()
                sys.exit(2)
            if train_seconds - last_log >= args.log_every or step == 1:
                print(f'step {step:5d}  train {train_seconds:6.1f}s  loss {float(loss):.4f} (' +
                      ' '.join(f'{k} {float(v):.4f}' for k, v in losses.items()) + f')  {images_seen / train_seconds:.1f} img/s', flush=True)
                last_log = train_seconds
            if train_seconds >= checkpoints[next_ckpt]:
                t_eval = time.perf_counter()
                dets = evaluate(model, val, category_ids, label_of, W, H, args.eval_batch)
                target = checkpoints[next_ckpt]
                path = os.path.join(args.out, f'det_{int(round(target))}s.json')
                with open(path, 'w') as f:
                    json.dump(dets, f)
                manifest['checkpoints'].append({'targetSeconds': target, 'trainSeconds': train_seconds, 'steps': step,
                                                'images': images_seen, 'detections': os.path.basename(path),
                                                'evalSeconds': time.perf_counter() - t_eval})
                write_manifest()
                print(f'checkpoint {target:g}s: step {step}, {len(dets)} detections', flush=True)
                next_ckpt += 1
                if next_ckpt == len(checkpoints):
                    done = True
                    break
        epoch += 1
    manifest['steps'] = step
    manifest['trainSeconds'] = train_seconds
    write_manifest()


if __name__ == '__main__':
    main()

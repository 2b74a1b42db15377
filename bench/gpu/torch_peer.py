"""PyTorch CUDA on the same GPU as bench/gpu/webgpu-bench.ts, the same rows: a 3x3 convolution,
a 4096 matmul (TF32 off: fp32 like WebGPU), and, when torchvision is installed, torchvision's
RetinaNet and Faster R-CNN on a ResNet-18 FPN backbone (train step batch 8 at 512x512 with AdamW,
inference batch 1). Writes JSON to argv[1]."""
import json
import sys
import time

import torch

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = torch.device("cuda")
rows = []


def timed(f, n, warm=2):
    times = []
    first = 0.0
    for i in range(n + warm):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        f()
        torch.cuda.synchronize()
        ms = (time.perf_counter() - t0) * 1000
        if i == 0:
            first = ms
        if i >= warm:
            times.append(ms)
    times.sort()
    return {"p50": times[len(times) // 2], "p90": times[min(len(times) - 1, int(len(times) * 0.9))], "first": first}


def row(name, r):
    rows.append({"name": name, **r})
    print(f"{name}: {json.dumps(r)}", flush=True)


with torch.no_grad():
    x = torch.randn(8, 256, 64, 64, device=dev)
    conv = torch.nn.Conv2d(256, 256, 3, padding=1, bias=False).to(dev)
    r = timed(lambda: conv(x), 20)
    row("conv 3x3 256->256 on 8x64x64", {**r, "tflops": 2 * 8 * 64 * 64 * 256 * 256 * 9 / (r["p50"] * 1e9)})
    a = torch.randn(4096, 4096, device=dev)
    b = torch.randn(4096, 4096, device=dev)
    r = timed(lambda: a @ b, 20)
    row("matmul 4096x4096", {**r, "tflops": 2 * 4096**3 / (r["p50"] * 1e9)})

try:
    from torchvision.models.detection import FasterRCNN, RetinaNet
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
    from torchvision.ops.feature_pyramid_network import LastLevelP6P7

    def targets(n, size):
        s = size / 64
        return [{"boxes": torch.tensor([[4 * s + i, 6 * s, 30 * s, 34 * s], [20 * s, 16 * s, 60 * s, 62 * s], [40 * s, 4 * s, 52 * s, 14 * s]], device=dev),
                 "labels": torch.tensor([i % 3 + 1, 3, 2], device=dev)} for i in range(n)]

    def build(kind):
        if kind == "retinanet":
            backbone = resnet_fpn_backbone(backbone_name="resnet18", weights=None, trainable_layers=5, returned_layers=[2, 3, 4],
                                           extra_blocks=LastLevelP6P7(256, 256))
            return RetinaNet(backbone, num_classes=81, min_size=512, max_size=512)
        backbone = resnet_fpn_backbone(backbone_name="resnet18", weights=None, trainable_layers=5)
        return FasterRCNN(backbone, num_classes=81, min_size=512, max_size=512)

    for kind, name in (("retinanet", "RetinaNet-R18-FPN"), ("faster", "Faster R-CNN-R18-FPN")):
        model = build(kind).to(dev)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-4)
        images = list(torch.randn(8, 3, 512, 512, device=dev))
        t = targets(8, 512)
        model.train()

        def step():
            loss = sum(model(images, t).values())
            opt.zero_grad()
            loss.backward()
            opt.step()

        r = timed(step, 8)
        model.eval()
        one = [torch.randn(3, 512, 512, device=dev)]
        with torch.no_grad():
            infer = timed(lambda: model(one), 10)
        row(f"{name} train step, batch 8, 512x512 (torchvision, frozen BN; RetinaNet P3-P7)", {**r, "predictBatch1": infer})
except ImportError as e:
    row("torchvision detectors", {"error": f"torchvision not installed ({e})"})

# The profiler bench's peer: torchvision's R50-FPN detectors at 1344x800, batch 1, inference, five
# profiles each on a freshly built model (as bench/gpu/profile-bench.ts): the CV of the five p50s.
try:
    from torchvision.models.detection import fasterrcnn_resnet50_fpn, retinanet_resnet50_fpn

    for build, name in ((retinanet_resnet50_fpn, "RetinaNet-R50-FPN"), (fasterrcnn_resnet50_fpn, "Faster R-CNN-R50-FPN")):
        p50s = []
        for _ in range(5):
            model = build(weights=None, weights_backbone=None, min_size=800, max_size=1344).to(dev).eval()
            image = [torch.rand(3, 800, 1344, device=dev)]
            with torch.no_grad():
                p50s.append(timed(lambda: model(image), 30, warm=5)["p50"])
        mean = sum(p50s) / len(p50s)
        cv = (sum((p - mean) ** 2 for p in p50s) / (len(p50s) - 1)) ** 0.5 / mean
        row(f"{name} 1344x800 batch 1 (torchvision profile)", {"p50s": p50s, "meanP50": mean, "cvOfP50": cv})
except ImportError:
    pass

json.dump({"torch": torch.__version__, "device": torch.cuda.get_device_name(0), "rows": rows}, open(sys.argv[1], "w"), indent=2)

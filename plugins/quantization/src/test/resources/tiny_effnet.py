# A small EfficientNet-style network (random weights, seeded): stem conv + SiLU, two MBConv blocks
# (expand 1x1 + SiLU, depthwise 3x3 + SiLU, squeeze-excite with SiLU and Sigmoid gate, project 1x1,
# residual), head conv + SiLU, global pool, linear. Input [N,3,32,32]. Exported with opset 13.
import torch, torch.nn as nn
torch.manual_seed(0)
class SE(nn.Module):
    def __init__(s, c, r):
        super().__init__(); s.a = nn.Conv2d(c, r, 1); s.b = nn.Conv2d(r, c, 1)
    def forward(s, x):
        w = nn.functional.adaptive_avg_pool2d(x, 1)
        return x * torch.sigmoid(s.b(nn.functional.silu(s.a(w))))
class MB(nn.Module):
    def __init__(s, c, e):
        super().__init__()
        s.exp = nn.Conv2d(c, c * e, 1); s.dw = nn.Conv2d(c * e, c * e, 3, padding=1, groups=c * e)
        s.se = SE(c * e, max(4, c // 4)); s.proj = nn.Conv2d(c * e, c, 1)
    def forward(s, x):
        y = nn.functional.silu(s.exp(x)); y = nn.functional.silu(s.dw(y)); y = s.se(y)
        return x + s.proj(y)
class Net(nn.Module):
    def __init__(s):
        super().__init__()
        s.stem = nn.Conv2d(3, 16, 3, stride=2, padding=1); s.b1 = MB(16, 4); s.b2 = MB(16, 4)
        s.head = nn.Conv2d(16, 64, 1); s.fc = nn.Linear(64, 10)
    def forward(s, x):
        x = nn.functional.silu(s.stem(x)); x = s.b2(s.b1(x)); x = nn.functional.silu(s.head(x))
        return s.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))
m = Net().eval()
torch.onnx.export(m, torch.randn(1, 3, 32, 32), "tiny_effnet.onnx", input_names=["x"], output_names=["logits"],
                  dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)

"""Image transforms as torch tensor ops (no torchvision), randomness from an explicit generator:
batch ops on the training device (:func:`random_crop_flip`, :func:`normalize`) and per-image
ImageNet ops in DataLoader workers (:func:`random_resized_crop`, :func:`resize_center_crop`)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# ImageNet evaluation: resize the short side to size / 0.875 (256 for 224), crop the centre.
CROP_FRACTION = 0.875


def resize(x: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Resize uint8 images (``C x H x W`` or ``N x C x H x W``) bilinearly with antialiasing."""
    size = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(x.shape[-2:]) == size:
        return x
    batch = x if x.dim() == 4 else x.unsqueeze(0)
    out = F.interpolate(
        batch.float(), size=size, mode="bilinear", antialias=True, align_corners=False
    )
    out = out.round_().clamp_(0, 255).to(torch.uint8)
    return out if x.dim() == 4 else out.squeeze(0)


def random_crop_flip(
    x: torch.Tensor, pad: int, flip: bool, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Random crop of a zero-padded batch back to its size, then random horizontal flip (one
    offset and one flip per image, drawn on ``x``'s device)."""
    n, c, h, w = x.shape
    if pad > 0:
        padded = F.pad(x, (pad, pad, pad, pad))
        dy = torch.randint(0, 2 * pad + 1, (n,), device=x.device, generator=generator)
        dx = torch.randint(0, 2 * pad + 1, (n,), device=x.device, generator=generator)
        rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
        x = padded.gather(2, rows.expand(n, c, h, w + 2 * pad))
        cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
        x = x.gather(3, cols.expand(n, c, h, w))
    if flip:
        mask = torch.rand(n, device=x.device, generator=generator) < 0.5
        x = torch.where(mask[:, None, None, None], x.flip(3), x)
    return x


def normalize(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 batch -> float32, per-channel ``(x - mean) / std`` (mean and std in 0..255 units)."""
    return (x.float() - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)


def random_resized_crop(
    img: torch.Tensor,
    size: int,
    generator: torch.Generator | None = None,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    flip: bool = True,
) -> torch.Tensor:
    """Crop a random area (fraction ``scale``, aspect ``ratio``) of a 3xHxW image, resize, flip."""
    _, h, w = img.shape
    top, left, ch, cw = _crop_box(h, w, scale, ratio, generator)
    out = resize(img[:, top : top + ch, left : left + cw], size)
    if flip and torch.rand(1, generator=generator).item() < 0.5:
        out = out.flip(2)
    return out


def _crop_box(h, w, scale, ratio, generator) -> tuple[int, int, int, int]:
    """(top, left, height, width) of a random-resized crop; the centre crop after 10 misses."""
    area = h * w
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        u = torch.rand(3, generator=generator).tolist()
        target = area * (scale[0] + (scale[1] - scale[0]) * u[0])
        aspect = math.exp(log_lo + (log_hi - log_lo) * u[1])
        cw = round(math.sqrt(target * aspect))
        ch = round(math.sqrt(target / aspect))
        if 0 < cw <= w and 0 < ch <= h:
            top = int(torch.randint(0, h - ch + 1, (1,), generator=generator))
            left = int(torch.randint(0, w - cw + 1, (1,), generator=generator))
            return top, left, ch, cw
    # the largest centred crop whose aspect lies within ``ratio``
    aspect = w / h
    if aspect < ratio[0]:
        cw, ch = w, round(w / ratio[0])
    elif aspect > ratio[1]:
        ch, cw = h, round(h * ratio[1])
    else:
        ch, cw = h, w
    return (h - ch) // 2, (w - cw) // 2, ch, cw


def resize_center_crop(
    img: torch.Tensor, size: int, fraction: float = CROP_FRACTION
) -> torch.Tensor:
    """Resize the short side to ``size / fraction``, then crop the centre ``size x size``."""
    _, h, w = img.shape
    short = max(size, round(size / fraction))
    if h <= w:
        new = (short, max(short, round(w * short / h)))
    else:
        new = (max(short, round(h * short / w)), short)
    img = resize(img, new)
    top, left = (new[0] - size) // 2, (new[1] - size) // 2
    return img[:, top : top + size, left : left + size]

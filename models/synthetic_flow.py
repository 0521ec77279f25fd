"""Synthetic optical flow, warping and noise of Unsupervised Recycle-GAN (Wang, Akash, Misu; AAAI 2022),
with the reference code's arithmetic (tests/reference/README.md, "The synthetic flow" and "The warp W").

A flow is (2, H, W) in pixels, channel 0 = x, channel 1 = y; one flow serves a whole batch. It is drawn as
  a grid of N(0, motion_level^2) values, one cell per CELL pixels of each side, resized bilinearly to
  (H, W), plus one integer shift per axis uniform on -shift_level..shift_level, then smoothed by a
  BOX x BOX mean filter,
so under 200 px a flow is a constant translation. The reference crashes under CELL px (an empty grid);
here a side has at least one cell, the one deliberate difference.

Everything is drawn and computed on the images' device, in float64 as the reference does, then cast to
float32: no host synchronisation.
"""
import torch
import torch.nn.functional as F

CELL = 100  # pixels per cell of the Gaussian grid
BOX = 100  # side of the mean filter


def grid_shape(height, width):
    """(rows, columns) of the Gaussian grid: one cell per CELL px, and at least one (the reference has none
    under CELL px and crashes there)."""
    return max(height // CELL, 1), max(width // CELL, 1)


def reflect_101(index, size):
    """index mapped into 0..size-1 by reflection about the edge pixels (dcb|abcd|cba), repeatedly."""
    if size == 1:
        return torch.zeros_like(index)
    period = 2 * (size - 1)
    index = index.abs() % period
    return torch.where(index >= size, period - index, index)


def box_filter(field, dim):
    """Mean over a window of BOX along `dim`, the window at i covering i - BOX/2 ... i + BOX/2 - 1 (OpenCV's
    anchor for an even window), with reflect-101 borders."""
    size = field.shape[dim]
    index = reflect_101(torch.arange(-(BOX // 2), size + BOX - BOX // 2 - 1, device=field.device), size)
    sums = F.pad(field.index_select(dim, index).cumsum(dim).movedim(dim, -1), (1, 0)).movedim(-1, dim)
    return (sums.narrow(dim, BOX, size) - sums.narrow(dim, 0, size)) / BOX


def flow_from_grid(base, shift, height, width):
    """The deterministic part of a flow: `base` (rows, columns, 2) float64 Gaussian grid, `shift` (2,) integer
    shifts (dx, dy) -> (2, height, width) float32 flow."""
    base = base.to(torch.float64).permute(2, 0, 1).unsqueeze(0)
    # align_corners=False: half-pixel centres, edges clamped (OpenCV's bilinear resize)
    flow = F.interpolate(base, size=(height, width), mode='bilinear', align_corners=False)[0]
    flow = flow + torch.as_tensor(shift, dtype=torch.float64, device=flow.device).view(2, 1, 1)
    return box_filter(box_filter(flow, 1), 2).to(torch.float32)


def random_flow(height, width, motion_level, shift_level, device=None, generator=None):
    """A random flow (2, height, width) float32; motion_level 0 gives a pure integer shift."""
    base = torch.randn(*grid_shape(height, width), 2, dtype=torch.float64, device=device, generator=generator)
    shift = torch.randint(-int(shift_level), int(shift_level) + 1, (2,), device=device, generator=generator)
    return flow_from_grid(base * motion_level, shift, height, width)


def warp(images, flow):
    """images (N, C, H, W) sampled at p - flow(p) (backward warping), bilinear, border padding.

    The reference normalises pixel coordinates by (size - 1), the align_corners=True convention, but calls
    grid_sample with its default align_corners=False: a zero flow is then a slight zoom, not the identity.
    Their numbers were measured with this arithmetic, so it is kept."""
    n, _, height, width = images.shape
    ys, xs = torch.meshgrid(torch.arange(height, device=flow.device, dtype=flow.dtype),
                            torch.arange(width, device=flow.device, dtype=flow.dtype), indexing='ij')
    x = 2 * (xs - flow[0]) / (width - 1) - 1
    y = 2 * (ys - flow[1]) / (height - 1) - 1
    # at least float32: bf16 coordinates would be off by up to a pixel at 256 px (--amp)
    dtype = torch.promote_types(images.dtype, torch.float32)
    grid = torch.stack([x, y], dim=-1).expand(n, height, width, 2).to(dtype)
    return F.grid_sample(images.to(dtype), grid, mode='bilinear', padding_mode='border', align_corners=False)


def random_noise(shape, noise_level, device=None, generator=None):
    """Gaussian noise of the given shape with std s = noise_level * (1 + u), u uniform on [0, 1), one s per call;
    noise_level 0 draws nothing, so that the flows drawn next do not depend on the batch size."""
    if noise_level == 0:
        return torch.zeros(shape, device=device)
    std = noise_level * (1 + torch.rand((), device=device, generator=generator))
    return torch.randn(shape, device=device, generator=generator) * std

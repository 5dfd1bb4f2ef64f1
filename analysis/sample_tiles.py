"""Generated samples as small inline PNGs for the report's drill-down: one montage per evaluation.

A montage holds the first ``n`` samples of an evaluation (the in-distribution conditions, fixed for the whole
trial, so the same tile shows the same condition at every step) at their native resolution, in 32 grey levels
(at this size no eye tells them from 256, and the PNG is about a quarter smaller), with one-pixel blue-grey gaps
between tiles. The target of each tile is marked in the gaps, never on the image: a red pixel in the gap above
the tile at the target's column (x) and one in the gap to its left at the target's row (y). The browser scales
the image up without smoothing (``image-rendering: pixelated``), so a PNG of a micro (8 x 8) sample grid is under
a kilobyte and a page of hundreds of them stays small.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np
from PIL import Image

GREYS = 32  # palette entries 0..31 are grey levels; the gap and mark colours follow
GAP, MARK = GREYS, GREYS + 1
GAP_RGB, MARK_RGB = (0x9F, 0xB7, 0xCC), (0xD6, 0x27, 0x28)  # the gap colour of analysis/plots.plot_samples; red
PALETTE = [v for i in range(GREYS) for v in (round(255 * i / (GREYS - 1)),) * 3] + [*GAP_RGB, *MARK_RGB]


def montage(samples: np.ndarray, targets: np.ndarray, n: int = 16) -> np.ndarray:
    """Palette indices (uint8, H x W) of the first ``n`` ``samples`` ((k, N, N) in [0, 1]) in a near-square grid,
    targets ((k, 2) as (x, y) pixel coordinates) marked in the gaps as the module docstring says."""
    n = min(n, len(samples))
    size = samples.shape[-1]
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    pitch = size + 1  # a one-pixel gap before every tile, and one closing the last row and column
    out = np.full((rows * pitch + 1, cols * pitch + 1), GAP, dtype=np.uint8)
    grey = np.clip(np.nan_to_num(samples[:n].astype(np.float32)), 0, 1) * (GREYS - 1)
    for i in range(n):
        r, c = divmod(i, cols)
        top, left = r * pitch + 1, c * pitch + 1
        out[top:top + size, left:left + size] = np.rint(grey[i]).astype(np.uint8)
        tx, ty = (int(np.clip(np.rint(v), 0, size - 1)) for v in targets[i][:2])
        out[top - 1, left + tx] = MARK
        out[top + ty, left - 1] = MARK
    return out


def png_data_uri(indices: np.ndarray) -> str:
    """A ``data:image/png;base64,...`` URI of a palette-index image (``montage``)."""
    height, width = indices.shape
    image = Image.frombytes("P", (width, height), np.ascontiguousarray(indices, dtype=np.uint8).tobytes())
    image.putpalette(PALETTE)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()

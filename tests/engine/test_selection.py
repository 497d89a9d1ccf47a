"""``backend="auto"``'s choice: stream once the materialised path's estimate passes the device's threshold
(64 MiB on CPU, 256 MiB on CUDA, at 24 bytes per pair), computed here from those documented numbers."""

import torch

from contrastkit.engine.selection import materialised_bytes, prefers_streaming


def test_the_estimate_is_24_bytes_per_pair():
    assert materialised_bytes(1000, 3000) == 24 * 1000 * 3000


def test_cpu_streams_past_64_mib_and_cuda_past_256_mib():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    at_cpu_limit = (64 * 2**20) // 24  # pairs that fill the CPU threshold exactly
    assert not prefers_streaming(1, at_cpu_limit, 8, cpu)
    assert prefers_streaming(1, at_cpu_limit + 1, 8, cpu)
    assert not prefers_streaming(1, at_cpu_limit + 1, 8, cuda)  # the larger CUDA threshold
    at_cuda_limit = (256 * 2**20) // 24
    assert not prefers_streaming(1, at_cuda_limit, 8, cuda)
    assert prefers_streaming(1, at_cuda_limit + 1, 8, cuda)
    # a device type without its own threshold uses CUDA's
    assert not prefers_streaming(1, at_cpu_limit + 1, 8, torch.device("meta"))

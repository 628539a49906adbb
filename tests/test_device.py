"""Device choice, its environment override, and the way back to numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vcc_core.device import DEFAULT_DTYPE, as_tensor, get_device, gpu_device, to_numpy

HAS_CUDA = torch.cuda.is_available()


def test_default_is_cuda_when_available(monkeypatch):
    monkeypatch.delenv("VCC_DEVICE", raising=False)
    assert get_device().type == ("cuda" if HAS_CUDA else "cpu")


@pytest.mark.parametrize("value", ["cpu", " CPU ", "auto", ""])
def test_environment_override(monkeypatch, value):
    monkeypatch.setenv("VCC_DEVICE", value)
    expected = "cpu" if value.strip().lower() == "cpu" or not HAS_CUDA else "cuda"
    assert get_device().type == expected


def test_argument_wins_over_environment(monkeypatch):
    monkeypatch.setenv("VCC_DEVICE", "gpu please")
    assert get_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("value", ["gpu", "cuda:x", "mps", "cpu:0:1"])
def test_malformed_value_is_named(monkeypatch, value):
    monkeypatch.setenv("VCC_DEVICE", value)
    with pytest.raises(ValueError, match=rf"VCC_DEVICE='{value}' is not a device: use 'cpu', 'cuda'"):
        get_device()


@pytest.mark.skipif(HAS_CUDA, reason="needs a machine without CUDA")
@pytest.mark.parametrize("value", ["cuda", "cuda:0"])
def test_cuda_without_gpu_is_refused(monkeypatch, value):
    monkeypatch.setenv("VCC_DEVICE", value)
    with pytest.raises(ValueError, match=rf"VCC_DEVICE='{value}' asks for CUDA, but torch .* sees no CUDA device"):
        get_device()


@pytest.mark.skipif(not HAS_CUDA, reason="needs CUDA")
def test_cuda_index_past_the_last_gpu_is_refused():
    with pytest.raises(ValueError, match=r"there are \d+ CUDA device"):
        get_device(f"cuda:{torch.cuda.device_count()}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64, torch.bool])
def test_to_numpy_round_trip(dtype):
    original = np.arange(6).reshape(2, 3).astype(torch.empty(0, dtype=dtype).numpy().dtype)
    tensor = as_tensor(original, device="cpu", dtype=dtype)
    back = to_numpy(tensor)
    assert back.dtype == original.dtype
    np.testing.assert_array_equal(back, original)


def test_to_numpy_detaches_and_widens_bfloat16():
    grad = torch.ones(3, requires_grad=True) * 2
    np.testing.assert_array_equal(to_numpy(grad), [2.0, 2.0, 2.0])
    half = to_numpy(torch.tensor([0.5, 1.5], dtype=torch.bfloat16))
    assert half.dtype == np.float32
    np.testing.assert_array_equal(half, [0.5, 1.5])
    array = np.ones(2)
    assert to_numpy(array) is array


def test_as_tensor_uses_the_default_dtype_and_device(monkeypatch):
    monkeypatch.setenv("VCC_DEVICE", "cpu")
    tensor = as_tensor(np.arange(3))
    assert (tensor.dtype, tensor.device.type) == (DEFAULT_DTYPE, "cpu")
    assert DEFAULT_DTYPE is torch.float32


@pytest.mark.parametrize(("requested", "env"), [(None, "cpu"), ("cpu", "auto"), (None, "auto")])
def test_gpu_device_is_none_where_the_work_runs_on_the_cpu(monkeypatch, requested, env):
    monkeypatch.setenv("VCC_DEVICE", env)
    on_gpu = HAS_CUDA and requested is None and env == "auto"
    assert gpu_device(requested) == (torch.device("cuda") if on_gpu else None)

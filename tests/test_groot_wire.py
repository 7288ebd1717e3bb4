"""bridge.groot.wire: Isaac-GR00T's msgpack wire format (numpy as .npy bytes, never pickle), server
addresses, and the missing-pyzmq error."""

import io
import sys

import msgpack
import numpy as np
import pytest
import torch

from bridge.groot.wire import ModalityConfig, import_zmq, pack, parse_address, unpack


def test_wire_format_is_isaac_gr00t_msgpack() -> None:
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    raw = msgpack.unpackb(pack({"x": a, "m": ModalityConfig((0,), ("video.front",))}))
    assert raw["x"]["__ndarray_class__"] is True
    np.testing.assert_array_equal(np.load(io.BytesIO(raw["x"]["as_npy"]), allow_pickle=False), a)
    assert raw["m"]["__ModalityConfig_class__"] is True and '"modality_keys": ["video.front"]' in raw["m"]["as_json"]
    back = unpack(pack({"x": a, "t": torch.ones(2), "s": ["a", "b"], "m": ModalityConfig((0, 1), ("k",))}), "test")
    assert back["x"].dtype == np.float32 and np.array_equal(back["x"], a) and np.array_equal(back["t"], np.ones(2))
    assert back["s"] == ["a", "b"] and back["m"] == ModalityConfig((0, 1), ("k",))
    buf = io.BytesIO()
    torch.save({"endpoint": "ping"}, buf)  # the older Isaac-GR00T serialisation
    with pytest.raises(ValueError, match=r"torch.save-based.*python -m bridge\.groot\.server"):
        unpack(buf.getvalue(), "the server at tcp://x:1")
    with pytest.raises(TypeError, match="cannot send object"):
        pack({"x": object()})


def test_address_parsing() -> None:
    assert parse_address("tcp://gpu-box:6000") == "tcp://gpu-box:6000"
    assert parse_address("gpu-box") == "tcp://gpu-box:5555"
    assert parse_address("10.0.0.2:5556") == "tcp://10.0.0.2:5556"
    for bad in ("http://x:1", "x:port", "x:70000", ":5555"):
        with pytest.raises(ValueError, match="tcp://"):
            parse_address(bad)


def test_missing_pyzmq_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zmq", None)  # makes `import zmq` raise ImportError
    with pytest.raises(ImportError, match=r"needs pyzmq.*pip install pyzmq=="):
        import_zmq()


def test_the_ga_msgpack_numpy_form_reads_and_writes() -> None:
    """The GA servers' arrays ({nd, type, kind, shape, data}, as msgpack-numpy writes them, keys as
    bytes) read back exactly; the legacy .npy form still reads; object arrays are refused."""
    import msgpack

    arrays = {"a": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.array([[1, 2]], np.int64),
              "c": np.array(True)}
    for form in ("npy", "msgpack_numpy"):
        back = unpack(pack({"data": arrays}, arrays=form), "test")["data"]
        for k, v in arrays.items():
            np.testing.assert_array_equal(back[k], v)
            assert back[k].dtype == v.dtype and back[k].shape == v.shape
    # written by hand, as msgpack_numpy.encode does (str keys too, as other writers send them)
    x = np.linspace(0, 1, 6, dtype=np.float64).reshape(2, 3)
    for nd in ({b"nd": True, b"type": x.dtype.str, b"kind": b"", b"shape": (2, 3), b"data": x.tobytes()},
               {"nd": True, "type": x.dtype.str, "kind": "", "shape": [2, 3], "data": x.tobytes()}):
        np.testing.assert_array_equal(unpack(msgpack.packb({"x": nd}), "test")["x"], x)
    with pytest.raises(ValueError, match="refusing a object array"):
        unpack(msgpack.packb({b"nd": True, b"type": "|O", b"kind": b"", b"shape": [1], b"data": b"x"}), "t")
    with pytest.raises(TypeError, match="msgpack-numpy form"):
        pack({"x": np.array([object()])}, arrays="msgpack_numpy")
    with pytest.raises(ValueError, match="arrays must be one of"):
        pack({}, arrays="pickle")

"""``jqgen info``: versions, devices, x64, the compile cache, memory, extras (text and JSON)."""

import json

import jax

from jqgen.cli import main


def test_info_prints_devices_x64_cache_and_memory(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for word in ("jqgen", "backend", "x64", "cache", "memory", "extras"):
        assert word in out, word
    assert f"{jax.default_backend()}: {len(jax.devices())} device(s)" in out


def test_info_json_is_one_object_with_the_same_facts(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["jax"] == jax.__version__ and info["x64"] == bool(jax.config.jax_enable_x64)
    assert len(info["devices"]) == len(jax.devices()) and info["largest_qcbm_qubits"] >= 10
    assert set(info["extras"]) >= {"flax", "evosax", "qiskit"}

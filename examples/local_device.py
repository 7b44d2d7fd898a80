"""Sending a QCBM circuit to the local device through jqgen.hardware, with a journal.

``Device.local(n)`` is TensorCircuit's offline ``local::testing`` provider; a real device is
``jqgen.hardware.parse_device("tencent::<name>")`` and nothing else changes. The circuit is
compiled to the device's native gates and coupling map (qiskit), run with a journal, and
run again: the second time the counts come from the journal, nothing is resubmitted.
Needs qiskit (``pip install "jqgen[hardware]"``).

    python examples/local_device.py [--small] [--journal PATH]
"""

import argparse
import os
import tempfile

import jax
import numpy as np

import jqgen
from jqgen.distributions import counts_to_probs, total_variation
from jqgen.hardware import Device, Journal, compile_qcbm, run_batch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="a quick run (CI)")
    ap.add_argument("--journal", default=None, help="the journal file (default: in a temporary folder)")
    args = ap.parse_args()
    n, layers, shots = (3, 1, 1000) if args.small else (5, 3, 20000)
    path = args.journal or os.path.join(tempfile.mkdtemp(prefix="jqgen-device-"), "journal.jsonl")

    model = jqgen.QCBM(jqgen.qcbm.HardwareEfficient(n, layers, "all"))   # all-to-all entanglers ...
    params = model.init(jax.random.key(0))
    device = Device.local(n)                                              # ... on a line of qubits
    compiled = compile_qcbm(model, params, device)
    print(f"{device.spec}: layout {compiled.layout}, native gates {sorted(device.native_gates)}")

    counts, = run_batch([compiled], device, shots, Journal(path), [{"example": "local_device"}])
    p_device = np.asarray(counts_to_probs(counts, n))
    p_exact = np.asarray(model.probs(params))
    print(f"{shots} shots: TV(device, exact) = {float(total_variation(p_device, p_exact)):.4f}")

    again, = run_batch([compiled], device, shots, Journal(path), [{"example": "local_device"}])
    print("second run read from the journal:", again == counts, Journal(path).budget())


if __name__ == "__main__":
    main()

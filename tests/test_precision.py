"""`training.precision: auto` trains in bf16 only where the CPU runs it natively, and honours the AVX2 caps."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import clean_env
from trainer import precision
from trainer.precision import CpuFacts, choose_precision, read_cpu_flags

SAPPHIRE_RAPIDS = frozenset({"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"})
COOPER_LAKE = frozenset({"avx2", "avx512f", "avx512bw", "avx512_bf16"})
SKYLAKE_SERVER = frozenset({"avx2", "avx512f", "avx512bw", "avx512vl", "avx512dq"})
HASWELL = frozenset({"sse4_2", "avx", "avx2", "fma"})


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (CpuFacts(SAPPHIRE_RAPIDS, "AVX512", ""), "bf16"),
        (CpuFacts(COOPER_LAKE, "AVX512", ""), "bf16"),
        (CpuFacts(SKYLAKE_SERVER, "AVX512", ""), "fp32"),  # AVX-512 without bf16 instructions: emulated
        (CpuFacts(HASWELL, "AVX2", ""), "fp32"),
        (CpuFacts(frozenset(), "DEFAULT", ""), "fp32"),  # no /proc/cpuinfo (macOS, containers without /proc)
        (CpuFacts(SAPPHIRE_RAPIDS, "AVX2", ""), "fp32"),  # ATEN_CPU_CAPABILITY=avx2
        (CpuFacts(SAPPHIRE_RAPIDS, "AVX512", "AVX2"), "fp32"),  # DNNL_MAX_CPU_ISA=AVX2
        (CpuFacts(SAPPHIRE_RAPIDS, "AVX512", "avx512_core"), "fp32"),  # oneDNN capped below its bf16 ISA
        (CpuFacts(SAPPHIRE_RAPIDS, "AVX512", "AVX512_CORE_AMX"), "bf16"),
        (CpuFacts(COOPER_LAKE, "AVX512", "avx512_core_bf16"), "bf16"),
    ],
)
def test_auto_picks_bf16_only_where_it_runs_natively(facts, expected):
    chosen, why = choose_precision("auto", facts)
    assert chosen == expected
    assert why.startswith("auto:")


@pytest.mark.parametrize("requested", ["fp32", "bf16"])
def test_an_explicit_precision_is_kept(requested):
    assert choose_precision(requested, CpuFacts(HASWELL, "AVX2", ""))[0] == requested
    assert choose_precision(requested, CpuFacts(SAPPHIRE_RAPIDS, "AVX512", ""))[0] == requested


def test_the_reasons_name_the_cap_that_decided():
    assert "ATEN_CPU_CAPABILITY" in choose_precision("auto", CpuFacts(SAPPHIRE_RAPIDS, "AVX2", ""))[1]
    assert "DNNL_MAX_CPU_ISA" in choose_precision("auto", CpuFacts(SAPPHIRE_RAPIDS, "AVX512", "AVX2"))[1]
    assert "amx_bf16" in choose_precision("auto", CpuFacts(SAPPHIRE_RAPIDS, "AVX512", ""))[1]


def test_cpu_flags_come_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16\n\nprocessor\t: 1\n")
    assert read_cpu_flags(cpuinfo) == {"fpu", "sse", "avx2", "avx512f", "avx512_bf16"}
    assert read_cpu_flags(tmp_path / "missing") == frozenset()


def test_cpu_facts_read_the_onednn_cap_from_the_environment(monkeypatch):
    monkeypatch.setenv("DNNL_MAX_CPU_ISA", "AVX2")
    assert precision.cpu_facts().dnnl_max_isa == "AVX2"
    monkeypatch.delenv("DNNL_MAX_CPU_ISA")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")
    assert precision.cpu_facts().dnnl_max_isa == "AVX512_CORE"


@pytest.mark.parametrize(
    "caps", [{"ATEN_CPU_CAPABILITY": "avx2"}, {"DNNL_MAX_CPU_ISA": "AVX2"},
             {"ATEN_CPU_CAPABILITY": "avx2", "DNNL_MAX_CPU_ISA": "AVX2"}],
)  # fmt: skip
def test_the_avx2_mimic_makes_auto_choose_fp32_on_this_machine(caps):
    """How the team mimics an AVX2 machine: a fresh interpreter under the caps, on whatever CPU runs the tests."""
    env = {**clean_env(), **caps}
    script = "from trainer.precision import resolve_precision; print(resolve_precision('auto')[0])"
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "fp32"

"""`training.precision: auto`: bf16 autocast only where the CPU runs bf16 natively, fp32 elsewhere.

bf16 autocast is 1.5-2.4x faster (measured) on a CPU with AVX512_BF16 or AMX, but on an AVX2-only CPU PyTorch falls back to a
slow bf16 gemm (the warm start's first epoch did not finish in 24 minutes). The team mimics an AVX2 machine with
`ATEN_CPU_CAPABILITY=avx2` and `DNNL_MAX_CPU_ISA=AVX2`; both caps are honoured, so auto picks fp32 under them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# /proc/cpuinfo flags that mean bf16 matrix multiplies run in hardware
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
# oneDNN ISA caps (DNNL_MAX_CPU_ISA / ONEDNN_MAX_CPU_ISA) at or above the first ISA with bf16 instructions
DNNL_BF16_ISAS = {
    "AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16", "AVX10_1_512",
    "AVX10_1_512_AMX", "AVX10_1_512_AMX_FP16", "AVX10_2_512", "AVX10_2_512_AMX_2", "ALL",
}  # fmt: skip


@dataclass(frozen=True)
class CpuFacts:
    """What the decision looks at; gathered by `cpu_facts`, built by hand in tests."""

    flags: frozenset[str]  # /proc/cpuinfo flags (empty where unreadable, e.g. macOS)
    torch_capability: str  # torch.backends.cpu.get_cpu_capability(): honours ATEN_CPU_CAPABILITY
    dnnl_max_isa: str  # DNNL_MAX_CPU_ISA or ONEDNN_MAX_CPU_ISA, "" when unset


def read_cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_facts() -> CpuFacts:
    import torch

    isa = os.environ.get("DNNL_MAX_CPU_ISA") or os.environ.get("ONEDNN_MAX_CPU_ISA") or ""
    return CpuFacts(read_cpu_flags(), torch.backends.cpu.get_cpu_capability(), isa)


def choose_precision(requested: str, facts: CpuFacts) -> tuple[str, str]:
    """(fp32 | bf16, why): an explicit fp32/bf16 is kept; auto means bf16 only where it runs natively."""
    if requested != "auto":
        return requested, "set in the config"
    native = [flag for flag in NATIVE_BF16_FLAGS if flag in facts.flags]
    if not native:
        return "fp32", "auto: this CPU has no native bf16 (no AVX512_BF16 or AMX)"
    if not facts.torch_capability.upper().startswith("AVX512"):
        return "fp32", f"auto: PyTorch kernels capped at {facts.torch_capability} (ATEN_CPU_CAPABILITY)"
    if facts.dnnl_max_isa and facts.dnnl_max_isa.upper() not in DNNL_BF16_ISAS:
        return "fp32", f"auto: oneDNN capped at {facts.dnnl_max_isa} (DNNL_MAX_CPU_ISA)"
    return "bf16", f"auto: CPU runs bf16 natively ({', '.join(native)})"


@lru_cache(maxsize=4)
def resolve_precision(requested: str) -> tuple[str, str]:
    """The precision this process trains in, and why (once per process: the CPU does not change)."""
    return choose_precision(requested, cpu_facts())

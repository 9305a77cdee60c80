#!/bin/sh
# Print the OpenBLAS kernel set to force for this CPU, or nothing.
#
# Debian 12's OpenBLAS (0.3.21) does not know AMD family 1Ah (Zen 5) and
# falls back to its Haswell (AVX2) kernels there; its SkylakeX (AVX-512)
# kernels run the encoder 1.5-1.7x faster in batches on the Zen 5 machines
# (docs/encoder.md). OpenBLAS picks its kernels when it loads, so the
# choice has to be in the environment before a daemon starts:
#
#   ct=$(scripts/openblas-coretype.sh)
#   if [ -n "$ct" ] && [ -z "${OPENBLAS_CORETYPE:-}" ]; then
#       export OPENBLAS_CORETYPE=$ct
#   fi
#
# (Export nothing rather than an empty value: OpenBLAS reads any value.)
# Prints SKYLAKEX when the CPU has every AVX-512 subset those kernels use
# (F, CD, BW, DQ, VL), else nothing (OpenBLAS's own choice stands).
set -eu
flags=$(sed -n 's/^flags[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null |
    head -n 1)
for f in avx512f avx512cd avx512bw avx512dq avx512vl; do
    case " $flags " in
    *" $f "*) ;;
    *) exit 0 ;;
    esac
done
echo SKYLAKEX

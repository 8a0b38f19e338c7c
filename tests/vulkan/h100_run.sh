#!/bin/bash
# The Vulkan backend on the lent NVIDIA H100 (see BENCHMARKS.md, "Vulkan").
# Run from the repository root on the device machine, with .gl (Vulkan
# loader packages) and .h100 (binaries built here with -Dcpu_arch=x86-64-v3,
# libpcre2, a subset of the fixtures) carried. Writes logs to $OUT.
#   usage: tests/vulkan/h100_run.sh [tests] [bench] [models...]
# BIN (default .h100/bin) picks the test/bench binaries, so builds of two
# commits can be compared in one call; PP (default 512) the prompt length.
set -u
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
if [ -e /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
H=$PWD/.h100
B=${BIN:-$H/bin}
# HALO_VULKAN_TEST_FULL: every reference case and decode step (CI runs one case).
export LD_LIBRARY_PATH=$H/lib HALO_FIXTURES=$H/fixtures HALO_CACHE_DIR=/tmp/halo-cache HALO_VULKAN_TEST_FULL=1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv | tee "$OUT/device.txt"

want() { for a in "${ARGS[@]}"; do [ "$a" = "$1" ] && return 0; done; return 1; }
ARGS=("$@")

if want tests; then
  # Kernel tests (every type) and the fixture models that were carried.
  "$B/test-vulkan" --gtest_filter='-*VulkanModel*llama_spm*:*VulkanModel*qwen3*:VulkanDevice.LostDevice*:VulkanRope*' \
    > "$OUT/tests.log" 2>&1
  echo "tests exit $?"; grep -E "PASSED|FAILED|largest|bandwidth" "$OUT/tests.log" | head -30
fi

if want bench; then
  M=/tmp/models
  mkdir -p $M
  mk() {  # name shape type vocab
    [ -s "$M/$1.gguf" ] || "$H/bin/halo-mkmodel" "$M/$1.gguf" --shape "$2" --type "$3" --vocab "$4" --threads 16 2>&1 | tail -1
  }
  for m in "${ARGS[@]}"; do
    case $m in
      1b-q4_0) mk 1b-q4_0 1b q4_0 "$H/fixtures/vocab/llama-spm.gguf" ;;
      7b-q4_0) mk 7b-q4_0 7b q4_0 "$H/fixtures/vocab/llama-spm.gguf" ;;
      8b-q8_0) mk 8b-q8_0 8b q8_0 "$H/fixtures/models/llama3-bpe-q4_k_m.gguf" ;;
      *) continue ;;
    esac
    "$B/halo-bench" -m "$M/$m.gguf" --backend vulkan -p ${PP:-512} -n 128 --reps ${REPS:-3} 2>&1 | tee -a "$OUT/bench.log"
  done
fi

// Reading tensor data into pool allocations: tensors are grouped into runs
// of neighbouring tensors, each run one allocation holding a contiguous
// range of the file with the file's own layout (so a run is read with a
// few large sequential reads, O_DIRECT where the memory and the file system
// allow) and none larger than the pool's largest allocation.
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <numeric>
#include <string>

#include "engine/error.h"
#include "engine/gguf/file_reader.h"
#include "engine/model/loader.h"

namespace halo::model_detail {
namespace {

using gguf::FileReader;

// Tensors further apart than this (tensors the model does not use lie
// between them) start a new run instead of reading the gap.
constexpr uint64_t kMaxGap = FileReader::kDirectAlign;

struct Run {
  uint64_t begin = 0, end = 0;   // the file bytes the run's tensors cover
  std::vector<size_t> tensors;   // indices into the tensor list
  uint64_t floor() const { return FileReader::direct_floor(begin); }
  uint64_t bytes() const { return FileReader::direct_ceil(end) - floor(); }
};

std::vector<Run> plan_runs(const std::vector<Tensor>& tensors, uint64_t max_run) {
  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return tensors[a].file_offset < tensors[b].file_offset; });
  std::vector<Run> runs;
  for (size_t i : order) {
    const Tensor& t = tensors[i];
    const uint64_t begin = t.file_offset, end = t.file_offset + t.n_bytes;
    if (!runs.empty()) {
      Run& run = runs.back();
      const uint64_t grown = FileReader::direct_ceil(std::max(run.end, end)) - run.floor();
      if (begin <= run.end + kMaxGap && grown <= max_run) {
        run.end = std::max(run.end, end);
        run.tensors.push_back(i);
        continue;
      }
    }
    Run run{begin, end, {i}};
    if (run.bytes() > max_run)
      throw Error(ErrorKind::NoMemory, "tensor " + t.name + " (" + std::to_string(t.n_bytes) +
                                           " bytes) is larger than the largest allocation this memory allows (" +
                                           std::to_string(max_run) + " bytes)");
    runs.push_back(std::move(run));
  }
  return runs;
}

// Reads a run into memory the host cannot see, through a host buffer.
void read_run_staged(const FileReader& reader, const Run& run, Pool& pool, PoolAllocation& alloc,
                     const std::function<void(uint64_t)>& after_chunk) {
  constexpr uint64_t kStage = FileReader::kChunkBytes;
  struct AlignedFree {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, AlignedFree> stage(
      static_cast<uint8_t*>(std::aligned_alloc(FileReader::kDirectAlign, kStage + FileReader::kDirectAlign)));
  if (!stage) throw Error(ErrorKind::NoMemory, "cannot allocate a staging buffer to read " + reader.name());
  for (uint64_t pos = run.begin; pos < run.end;) {
    const uint64_t floor = FileReader::direct_floor(pos);
    const uint64_t stop = std::min(run.end, floor + kStage);
    reader.read_range(pos, stop, stage.get(), {});
    pool.write(alloc, pos - run.floor(), stage.get() + (pos - floor), stop - pos);
    pos = stop;
    if (after_chunk) after_chunk(pos - run.begin);
  }
}

}  // namespace

std::vector<std::unique_ptr<PoolAllocation>> read_weights(const FileReader& reader, std::vector<Tensor>& tensors,
                                                          Pool& pool, const std::string& what,
                                                          const std::function<void(double)>& progress) {
  const std::vector<Run> runs = plan_runs(tensors, pool.max_allocation());
  uint64_t total = 0, done = 0;
  for (const Run& run : runs) total += run.end - run.begin;
  std::vector<std::unique_ptr<PoolAllocation>> allocs;
  for (const Run& run : runs) {
    auto alloc = pool.allocate(run.bytes(), what, FileReader::kDirectAlign);
    auto after_chunk = [&](uint64_t run_done) {
      if (progress && total) progress(static_cast<double>(done + run_done) / static_cast<double>(total));
    };
    if (alloc->host()) {
      reader.read_range(run.begin, run.end, static_cast<uint8_t*>(alloc->host()), after_chunk);
    } else {
      read_run_staged(reader, run, pool, *alloc, after_chunk);
    }
    done += run.end - run.begin;
    for (size_t i : run.tensors) {
      Tensor& t = tensors[i];
      t.alloc = alloc.get();
      t.offset = t.file_offset - run.floor();
      t.host = alloc->host() ? static_cast<const uint8_t*>(alloc->host()) + t.offset : nullptr;
    }
    allocs.push_back(std::move(alloc));
  }
  if (progress) progress(1.0);
  return allocs;
}

uint64_t weight_bytes_bound(uint64_t tensor_bytes, uint64_t n_tensors) {
  // Each tensor may start a run (up to two partial O_DIRECT blocks) and
  // bring a gap of at most kMaxGap; a pool adds at most its alignment.
  return tensor_bytes + n_tensors * (2 * FileReader::kDirectAlign + kMaxGap + 512);
}

}  // namespace halo::model_detail

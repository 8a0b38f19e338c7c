#include "tools/halo-mkmodel/weights.h"

#include <algorithm>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/quant/quantize.h"

namespace halo::mkmodel {
namespace {

// splitmix64: a small, well-mixed 64-bit generator, cheap to seed per row.
uint64_t next_random(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The sum of four uniform 16-bit numbers (Irwin-Hall, n = 4) is close to
// normal and costs one 64-bit random number: mean 4 * 65535 / 2, standard
// deviation 2 * sqrt((65536^2 - 1) / 12).
constexpr float kIrwinHallMean = 131070.0f;
constexpr float kIrwinHallStd = 37837.23f;

constexpr uint64_t kTargetChunkBytes = 4u << 20;  // quantized bytes per thread and batch

// Runs work(first_row, count) over [first, first + count) split across threads.
template <typename Work>
void parallel_rows(uint64_t first, uint64_t count, unsigned threads, const Work& work) {
  const uint64_t parts = std::min<uint64_t>(threads, count);
  std::vector<std::thread> pool;
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto run_part = [&](uint64_t part) {
    const uint64_t begin = first + count * part / parts, end = first + count * (part + 1) / parts;
    try {
      work(begin, end - begin);
    } catch (...) {
      std::lock_guard lock(failure_mutex);
      if (!failure) failure = std::current_exception();
    }
  };
  for (uint64_t part = 1; part < parts; ++part) pool.emplace_back(run_part, part);
  run_part(0);
  for (std::thread& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

uint64_t tensor_seed(uint64_t seed, std::string_view tensor_name) {
  uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a over the name
  for (unsigned char c : tensor_name) hash = (hash ^ c) * 0x100000001b3ull;
  uint64_t state = seed ^ hash;
  return next_random(state);
}

void fill_row(uint64_t tensor_seed, uint64_t row, float stddev, float* out, uint64_t n) {
  uint64_t state = tensor_seed ^ (row * 0xd1b54a32d192ed03ull);
  const float scale = stddev / kIrwinHallStd;
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t r = next_random(state);
    const uint32_t sum = static_cast<uint32_t>((r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) + (r >> 48));
    out[i] = (static_cast<float>(sum) - kIrwinHallMean) * scale;
  }
}

gguf::Writer::Producer weight_producer(const TensorSpec& spec, uint64_t seed, unsigned threads) {
  return [spec, seed, threads](gguf::TensorSink& sink) {
    const uint64_t n_cols = spec.dims[0];
    const uint64_t n_rows = spec.rows();
    const uint64_t row_size = *row_bytes(spec.type, n_cols);  // checked by llama_tensors
    const uint64_t rows_per_thread = std::max<uint64_t>(1, kTargetChunkBytes / row_size);
    const uint64_t batch_rows = std::min(n_rows, rows_per_thread * threads);
    const uint64_t seed_of_tensor = tensor_seed(seed, spec.name);
    std::vector<uint8_t> batch(batch_rows * row_size);

    for (uint64_t first = 0; first < n_rows; first += batch_rows) {
      const uint64_t count = std::min(batch_rows, n_rows - first);
      parallel_rows(first, count, threads, [&](uint64_t begin, uint64_t rows) {
        std::vector<float> values(n_cols);
        for (uint64_t r = begin; r < begin + rows; ++r) {
          if (spec.init == Init::Ones) std::fill(values.begin(), values.end(), 1.0f);
          else fill_row(seed_of_tensor, r, kWeightStd, values.data(), n_cols);
          quantize_row(spec.type, values.data(), batch.data() + (r - first) * row_size,
                       static_cast<int64_t>(n_cols));
        }
      });
      sink.write(batch.data(), count * row_size);
    }
  };
}

}  // namespace halo::mkmodel

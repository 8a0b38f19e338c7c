// halo-bench: prompt processing (pp) and generation (tg) speed per model and
// backend, as markdown tables, with the effective bandwidth of generation
// (weight bytes x tokens/s) and the device's measured read bandwidth.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/error.h"
#include "engine/model/model.h"
#include "tools/halo-bench/bench.h"
#include "tools/halo-bench/kernels.h"
#include "tools/halo-bench/read_bandwidth.h"

namespace {

struct Options {
  std::vector<std::string> models;
  std::vector<std::string> matvecs;  // kernel benchmarks, "q4_0:4096x4096"
  std::vector<std::string> backends{"cpu"};
  uint32_t n_prompt = 512;
  uint32_t n_gen = 128;
  uint32_t depth = 0;  // context tokens before generation
  uint32_t threads = 0;
  uint32_t reps = 5;
};

int report_error(const std::string& message) {
  std::fprintf(stderr, "halo-bench: error: %s\n", message.c_str());
  return 1;
}

std::string format_params(uint64_t n) {
  char buf[32];
  if (n >= 1000000000ull) {
    std::snprintf(buf, sizeof buf, "%.2f B", n / 1e9);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f M", n / 1e6);
  }
  return buf;
}

void print_row(const std::string& prefix, const std::string& test, const halo::bench::Figure& f,
               const std::string& bandwidth) {
  std::printf("%s | %s | %.2f ± %.2f | %s |\n", prefix.c_str(), test.c_str(), f.mean, f.stddev,
              bandwidth.c_str());
  std::fflush(stdout);
}

// Benchmarks one model on one backend and prints its table.
void bench_model(halo::Backend& backend, const std::string& path, const Options& o,
                 std::optional<double> read_bw) {
  halo::LoadOptions load_opts;
  load_opts.pool = backend.pool();
  auto model = halo::Model::load(path, load_opts);
  halo::RunnerOptions run_opts;
  run_opts.n_ctx = std::max(o.n_prompt, o.depth + o.n_gen);
  run_opts.n_threads = o.threads;
  auto runner = backend.attach(*model, run_opts);

  std::string name = std::filesystem::path(path).stem().string();
  uint64_t bytes = model->weight_bytes();
  char prefix[512];
  std::snprintf(prefix, sizeof prefix, "| %s | %.1f MiB | %s | %s | %s", name.c_str(), bytes / 1048576.0,
                format_params(model->n_params()).c_str(), backend.name().c_str(),
                backend.device_name().c_str());
  std::printf("\n## %s on %s\n\n", name.c_str(), backend.name().c_str());
  std::printf("| model | size | params | backend | device | test | t/s | eff. bandwidth |\n");
  std::printf("|---|---:|---:|---|---|---|---:|---:|\n");
  uint32_t n_vocab = model->hparams().n_vocab;
  if (o.n_prompt > 0) {
    auto pp = halo::bench::summarize(halo::bench::bench_prompt(*runner, n_vocab, o.n_prompt, o.reps));
    print_row(prefix, "pp" + std::to_string(o.n_prompt), pp, "");
  }
  if (o.n_gen > 0) {
    auto tg = halo::bench::summarize(halo::bench::bench_generate(*runner, n_vocab, o.n_gen, o.reps, o.depth));
    char bw[64];
    std::snprintf(bw, sizeof bw, "%.1f GB/s", bytes * tg.mean / 1e9);
    std::string test = "tg" + std::to_string(o.n_gen) + (o.depth ? " @ d" + std::to_string(o.depth) : "");
    print_row(prefix, test, tg, bw);
    if (read_bw) {
      std::printf("\nread bandwidth: %.1f GB/s (tg uses %.0f%% of it)\n", *read_bw,
                  100.0 * bytes * tg.mean / 1e9 / *read_bw);
    }
  }
  if (!read_bw) std::printf("\nread bandwidth: n/a\n");
}

// Runs every model on one backend; returns false when something failed.
bool bench_backend(const std::string& backend_name, const Options& o) {
  std::unique_ptr<halo::Backend> backend;
  try {
    backend = halo::create_backend(backend_name);
  } catch (const halo::Error& e) {
    report_error("backend " + backend_name + ": " + e.what());
    return false;
  }
  std::optional<double> read_bw = halo::bench::measure_read_bandwidth(*backend);
  bool ok = o.matvecs.empty() || halo::bench::bench_matvec(*backend, o.matvecs, read_bw);
  for (const std::string& path : o.models) {
    try {
      bench_model(*backend, path, o, read_bw);
    } catch (const std::exception& e) {
      report_error(path + " on " + backend_name + ": " + e.what());
      ok = false;
    }
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"halo-bench: prompt and generation speed of GGUF models per backend"};
  Options o;
  app.add_option("-m,--model", o.models, "GGUF model (repeatable)");
  app.add_option("--matvec", o.matvecs,
                 "decode matrix-vector kernel alone, TYPE:ROWSxCOLS (repeatable; Vulkan only)");
  app.add_option("--backend", o.backends, "backends, comma-separated (cpu, vulkan, rocm, auto)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("-p,--n-prompt", o.n_prompt, "prompt tokens (0: skip pp)")->capture_default_str();
  app.add_option("-n,--n-gen", o.n_gen, "generated tokens (0: skip tg)")->capture_default_str();
  app.add_option("-d,--depth", o.depth, "context tokens before generation (tg at depth)")->capture_default_str();
  app.add_option("--threads", o.threads, "CPU threads (0: all cores)");
  app.add_option("--reps", o.reps, "repetitions per test")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1000u));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::printf("%s", app.help().c_str());
    return 0;
  } catch (const CLI::ParseError& e) {
    return report_error(std::string(e.what()) + " (see --help)");
  }
  if (o.models.empty() && o.matvecs.empty()) return report_error("nothing to measure: give -m MODEL or --matvec");
  if (!o.models.empty() && o.n_prompt == 0 && o.n_gen == 0)
    return report_error("nothing to measure: -p and -n are both 0");
  bool ok = true;
  for (const std::string& b : o.backends) ok = bench_backend(b, o) && ok;
  return ok ? 0 : 3;
}

// Runs the built halo-bench (path in $HALO_BENCH) with tiny sizes on a
// fixture model: the markdown table, its rows and the bandwidth lines, and
// errors for bad input.
#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>
#include <string>
#include <vector>

#include "tests/fixtures.h"
#include "tests/tools/run_process.h"

namespace halo::test {
namespace {

ProcessResult halo_bench(const std::vector<std::string>& args) {
  const char* path = std::getenv("HALO_BENCH");
  if (!path) throw std::runtime_error("HALO_BENCH is not set");
  return run_process(path, args);
}

TEST(HaloBench, PrintsATableWithPpAndTgRowsOnCpu) {
  ProcessResult r = halo_bench({"-m", fixture("models/qwen2-spm-q4_0.gguf"), "--backend", "cpu", "-p", "16",
                                "-n", "4", "--reps", "2", "--threads", "1"});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.err;
  EXPECT_NE(r.out.find("| model | size | params | backend | device | test | t/s | eff. bandwidth |"),
            std::string::npos)
      << r.out;
  // | qwen2-spm-q4_0 | 11.6 MiB | 17.96 M | cpu | <device> | pp16 | 123.45 ± 1.23 |  |
  std::regex pp(R"(\| qwen2-spm-q4_0 \| [0-9.]+ MiB \| [0-9.]+ [MB] \| cpu \| [^|]+ \| pp16 \| [0-9.]+ ± [0-9.]+ \|  \|)");
  std::regex tg(R"(\| qwen2-spm-q4_0 \| [0-9.]+ MiB \| [0-9.]+ [MB] \| cpu \| [^|]+ \| tg4 \| [0-9.]+ ± [0-9.]+ \| [0-9.]+ GB/s \|)");
  EXPECT_TRUE(std::regex_search(r.out, pp)) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, tg)) << r.out;
  EXPECT_NE(r.out.find("read bandwidth: n/a"), std::string::npos) << r.out;
}

TEST(HaloBench, OneTablePerModel) {
  ProcessResult r = halo_bench({"-m", fixture("models/qwen2-spm-q4_0.gguf"), "-m",
                                fixture("models/qwen3-spm-q8_0.gguf"), "-p", "8", "-n", "0", "--reps", "1",
                                "--threads", "1"});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.err;
  EXPECT_NE(r.out.find("## qwen2-spm-q4_0 on cpu"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("## qwen3-spm-q8_0 on cpu"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("tg"), std::string::npos) << "-n 0 skips tg: " << r.out;
}

TEST(HaloBench, BadModelAndBadArgumentsAreErrors) {
  TempDir dir;
  write_file(dir.file("bad.gguf"), "GGUF garbage");
  ProcessResult bad = halo_bench({"-m", dir.file("bad.gguf"), "-p", "8", "-n", "1", "--reps", "1"});
  ASSERT_TRUE(bad.exited) << "signal " << bad.signal;
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_EQ(bad.err.rfind("halo-bench: error: ", 0), 0u) << bad.err;

  ProcessResult none = halo_bench({"-p", "8"});
  ASSERT_TRUE(none.exited);
  EXPECT_NE(none.exit_code, 0);
  EXPECT_EQ(none.err.rfind("halo-bench: error: ", 0), 0u) << none.err;

  ProcessResult backend = halo_bench({"-m", fixture("models/qwen2-spm-q4_0.gguf"), "--backend", "abacus"});
  ASSERT_TRUE(backend.exited);
  EXPECT_NE(backend.exit_code, 0);
  EXPECT_NE(backend.err.find("halo-bench: error: backend abacus"), std::string::npos) << backend.err;
}

}  // namespace
}  // namespace halo::test

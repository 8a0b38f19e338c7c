// Runs a program with arguments and collects its exit status, stdout and
// stderr (through files in a temporary folder, so large outputs cannot block).
#pragma once
#include "tests/temp_dir.h"
#include <string>
#include <vector>

namespace halo::test {

struct ProcessResult {
  bool exited = false;    // false: killed by a signal
  int exit_code = -1;     // valid when exited
  int signal = 0;         // valid when !exited
  std::string out;
  std::string err;
};

ProcessResult run_process(const std::string& program, const std::vector<std::string>& args);

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& bytes);

}  // namespace halo::test

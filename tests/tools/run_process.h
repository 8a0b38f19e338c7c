// Runs a program with arguments and collects its exit status, stdout and
// stderr (through files in a temporary folder, so large outputs cannot block).
#pragma once
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

// A fresh temporary folder, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& bytes);

}  // namespace halo::test

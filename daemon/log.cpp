#include "daemon/log.h"

#include <systemd/sd-journal.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

namespace halod {
namespace {

std::atomic<int> g_max_level{static_cast<int>(LogLevel::Info)};

// systemd sets JOURNAL_STREAM=<device>:<inode> when stderr goes to the
// journal; then the native protocol keeps the structured fields instead of
// flattening them. The variable is inherited by children whose stderr may go
// elsewhere, so it only counts when it names our stderr.
bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (!stream) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st{};
  return fstat(STDERR_FILENO, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

bool journal_connected() {
  static const bool connected = stderr_is_journal();
  return connected;
}

void send_to_journal(LogLevel level, const std::string& message, const LogFields& f) {
  std::vector<std::string> fields;
  fields.push_back("MESSAGE=" + message);
  fields.push_back("PRIORITY=" + std::to_string(static_cast<int>(level)));
  fields.push_back("SYSLOG_IDENTIFIER=halod");
  if (!f.model.empty()) fields.push_back("MODEL=" + f.model);
  if (!f.backend.empty()) fields.push_back("BACKEND=" + f.backend);
  if (!f.request.empty()) fields.push_back("REQUEST=" + f.request);
  std::vector<iovec> iov;
  for (auto& s : fields) iov.push_back({s.data(), s.size()});
  sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));  // best effort: nowhere else to report
}

void send_to_stderr(LogLevel level, const std::string& message, const LogFields& f) {
  static std::mutex mu;  // keep lines from worker threads whole
  std::string line = message;
  if (!f.model.empty()) line += " [model=" + f.model + "]";
  if (!f.backend.empty()) line += " [backend=" + f.backend + "]";
  if (!f.request.empty()) line += " [request=" + f.request + "]";
  const char* prefix = level <= LogLevel::Error ? "halod: error: "
                       : level == LogLevel::Warning ? "halod: warning: " : "halod: ";
  std::lock_guard lock(mu);
  std::fprintf(stderr, "%s%s\n", prefix, line.c_str());
}

}  // namespace

void set_log_level(LogLevel max_level) { g_max_level = static_cast<int>(max_level); }

void log(LogLevel level, const std::string& message, const LogFields& fields) {
  if (static_cast<int>(level) > g_max_level) return;
  if (journal_connected())
    send_to_journal(level, message, fields);
  else
    send_to_stderr(level, message, fields);
}

}  // namespace halod

// Logging for halod: to the journal with structured fields (MODEL=, BACKEND=,
// REQUEST=) when systemd connected stderr to it (JOURNAL_STREAM is set),
// plain lines on stderr otherwise.
#pragma once
#include <string>

namespace halod {

enum class LogLevel { Error = 3, Warning = 4, Notice = 5, Info = 6, Debug = 7 };

// Optional context of a message; empty fields are left out.
struct LogFields {
  std::string model;
  std::string backend;
  std::string request;
};

void log(LogLevel level, const std::string& message, const LogFields& fields = {});

inline void log_error(const std::string& m, const LogFields& f = {}) { log(LogLevel::Error, m, f); }
inline void log_warning(const std::string& m, const LogFields& f = {}) { log(LogLevel::Warning, m, f); }
inline void log_info(const std::string& m, const LogFields& f = {}) { log(LogLevel::Info, m, f); }
inline void log_debug(const std::string& m, const LogFields& f = {}) { log(LogLevel::Debug, m, f); }

// Messages below this level are dropped (default Info; HALOD_DEBUG=1 sets Debug).
void set_log_level(LogLevel max_level);

}  // namespace halod

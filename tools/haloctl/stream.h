// Following a request's stream (Generate, Chat): each JSON line as it
// arrives, until the final {"done": true, ...} line. Ctrl-C cancels the
// request on the daemon (once) and the stream still runs to its final line.
#pragma once
#include <sdbus-c++/sdbus-c++.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace haloctl {

// Installs the Ctrl-C handler (no SA_RESTART, so waits return at once).
void catch_interrupts();
bool interrupted();
void clear_interrupt();

struct StreamEnd {
  std::optional<nlohmann::json> done;  // the final line; empty when the stream ended without one
  std::string done_line;               // its text
  std::optional<std::chrono::steady_clock::time_point> first_line;
};

// Calls on_line with every line but the final one (raw: its text, parsed
// when it is JSON, else null).
using LineHandler = std::function<void(const std::string& raw, const nlohmann::json& line)>;
StreamEnd follow_stream(sdbus::IConnection& bus, const std::string& request_path, int fd, const LineHandler& on_line);

}  // namespace haloctl

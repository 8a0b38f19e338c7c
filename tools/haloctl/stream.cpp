#include "tools/haloctl/stream.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "tools/haloctl/client.h"

namespace haloctl {
namespace {

volatile sig_atomic_t g_interrupted = 0;

void on_sigint(int) { g_interrupted = 1; }

}  // namespace

void catch_interrupts() {
  struct sigaction sa{};
  sa.sa_handler = on_sigint;
  sigaction(SIGINT, &sa, nullptr);
}

bool interrupted() { return g_interrupted != 0; }
void clear_interrupt() { g_interrupted = 0; }

StreamEnd follow_stream(sdbus::IConnection& bus, const std::string& request_path, int fd, const LineHandler& on_line) {
  StreamEnd end;
  bool cancel_sent = false;
  std::string pending;
  char buf[4096];
  while (!end.done) {
    if (g_interrupted && !cancel_sent) {
      cancel_sent = true;
      try {
        RequestProxy(bus, request_path).Cancel();
      } catch (const sdbus::Error&) {
        // finished meanwhile: its last line is on the way, on purpose ignored
      }
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (!end.first_line) end.first_line = std::chrono::steady_clock::now();
    pending.append(buf, static_cast<size_t>(n));
    size_t nl;
    while (!end.done && (nl = pending.find('\n')) != std::string::npos) {
      const std::string raw = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      auto j = nlohmann::json::parse(raw, nullptr, false);
      if (j.is_discarded()) {
        std::fprintf(stderr, "haloctl: unreadable stream line: %s\n", raw.c_str());
        continue;
      }
      if (j.value("done", false)) {
        end.done = std::move(j);
        end.done_line = raw;
      } else {
        on_line(raw, j);
      }
    }
  }
  return end;
}

}  // namespace haloctl

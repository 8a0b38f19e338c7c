// Finds stop strings in streamed text. Text that could still turn out to be
// the start of a stop string is held back until the next piece decides it,
// so a stop string split across tokens is never emitted.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace halo {

class StopMatcher {
 public:
  explicit StopMatcher(const std::vector<std::string>& stops);

  struct Result {
    std::string text;      // text now safe to emit
    bool stopped = false;  // a stop string was found; text is what came before it
  };
  // Adds text; after a stop it must not be called again.
  Result push(std::string_view text);
  // Releases the text held back (generation ended for another reason).
  std::string flush();

 private:
  size_t held_suffix_length() const;

  std::vector<std::string> stops_;  // non-empty ones only
  std::string held_;
};

}  // namespace halo

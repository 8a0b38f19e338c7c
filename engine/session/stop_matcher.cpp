#include "engine/session/stop_matcher.h"

#include <algorithm>

namespace halo {

StopMatcher::StopMatcher(const std::vector<std::string>& stops) {
  for (const std::string& s : stops) {
    if (!s.empty()) stops_.push_back(s);
  }
}

// Length of the longest tail of held_ that is a proper prefix of a stop string.
size_t StopMatcher::held_suffix_length() const {
  size_t longest = 0;
  for (const std::string& stop : stops_) {
    size_t max_len = std::min(held_.size(), stop.size() - 1);
    for (size_t len = max_len; len > longest; --len) {
      if (std::string_view(held_).substr(held_.size() - len) == std::string_view(stop).substr(0, len)) {
        longest = len;
        break;
      }
    }
  }
  return longest;
}

StopMatcher::Result StopMatcher::push(std::string_view text) {
  held_.append(text);
  Result result;
  // Earliest occurrence of any stop string: everything before it is final.
  size_t first = std::string::npos;
  for (const std::string& stop : stops_) first = std::min(first, held_.find(stop));
  if (first != std::string::npos) {
    result.text = held_.substr(0, first);
    result.stopped = true;
    held_.clear();
    return result;
  }
  size_t keep = held_suffix_length();
  result.text = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return result;
}

std::string StopMatcher::flush() {
  std::string out;
  out.swap(held_);
  return out;
}

}  // namespace halo

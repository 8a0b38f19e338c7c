#include "daemon/options.h"

#include <cmath>
#include <set>

#include "daemon/errors.h"

namespace halod {
namespace {

// Reads options[key] as T, or fails naming the key, the type it has and the
// type it needs (D-Bus signatures, as busctl spells them).
template <typename T>
T get_typed(const std::string& key, const sdbus::Variant& v) {
  const std::string want = sdbus::signature_of<T>::str();
  const std::string have = v.peekValueType();
  if (have != want)
    errors::fail(errors::kInvalidArgument,
                 "Option '" + key + "' must have type '" + want + "', not '" + have + "'");
  return v.get<T>();
}

[[noreturn]] void unknown_key(const std::string& key, const std::set<std::string>& known) {
  std::string list;
  for (auto& k : known) list += (list.empty() ? "" : ", ") + k;
  errors::fail(errors::kInvalidArgument, "Unknown option '" + key + "'; known options: " + list);
}

double get_finite(const std::string& key, const sdbus::Variant& v, double lo, double hi) {
  double d = get_typed<double>(key, v);
  if (!std::isfinite(d) || d < lo || d > hi)
    errors::fail(errors::kInvalidArgument, "Option '" + key + "' must be between " +
                                               std::to_string(lo) + " and " + std::to_string(hi));
  return d;
}

}  // namespace

LoadModelOptions parse_load_options(const VariantMap& options) {
  static const std::set<std::string> known = {"backend", "context_length", "keep_alive", "pinned"};
  static const std::set<std::string> backends = {"auto", "cpu", "vulkan", "rocm"};
  LoadModelOptions out;
  for (const auto& [key, value] : options) {
    if (key == "backend") {
      out.backend = get_typed<std::string>(key, value);
      if (!backends.count(out.backend))
        errors::fail(errors::kInvalidArgument, "Option 'backend' must be one of auto, cpu, vulkan, rocm; got '" +
                                                   out.backend + "'");
    } else if (key == "context_length") {
      out.context_length = get_typed<uint32_t>(key, value);
      if (out.context_length < 16 || out.context_length > (1u << 20))
        errors::fail(errors::kInvalidArgument, "Option 'context_length' must be between 16 and 1048576 tokens");
    } else if (key == "keep_alive") {
      int32_t k = get_typed<int32_t>(key, value);
      if (k < -1)
        errors::fail(errors::kInvalidArgument,
                     "Option 'keep_alive' is seconds: -1 (forever), 0 (unload after each request) or more");
      out.keep_alive = k;
    } else if (key == "pinned") {
      out.pinned = get_typed<bool>(key, value);
    } else {
      unknown_key(key, known);
    }
  }
  return out;
}

halo::GenerateParams parse_generate_options(const VariantMap& options, const GenerateLimits& limits) {
  static const std::set<std::string> known = {"max_tokens", "temperature", "top_k", "top_p", "min_p",
                                              "repeat_penalty", "seed", "stop"};
  halo::GenerateParams p;
  p.max_tokens = limits.default_max_tokens;
  for (const auto& [key, value] : options) {
    if (key == "max_tokens") {
      p.max_tokens = get_typed<uint32_t>(key, value);
      if (p.max_tokens == 0 || p.max_tokens > limits.max_tokens_limit)
        errors::fail(errors::kInvalidArgument, "Option 'max_tokens' must be between 1 and " +
                                                   std::to_string(limits.max_tokens_limit));
    } else if (key == "temperature") {
      p.sampling.temperature = static_cast<float>(get_finite(key, value, 0.0, 100.0));
    } else if (key == "top_k") {
      p.sampling.top_k = get_typed<uint32_t>(key, value);
    } else if (key == "top_p") {
      p.sampling.top_p = static_cast<float>(get_finite(key, value, 0.0, 1.0));
    } else if (key == "min_p") {
      p.sampling.min_p = static_cast<float>(get_finite(key, value, 0.0, 1.0));
    } else if (key == "repeat_penalty") {
      p.sampling.repeat_penalty = static_cast<float>(get_finite(key, value, 0.0, 10.0));
    } else if (key == "seed") {
      p.sampling.seed = get_typed<uint64_t>(key, value);
    } else if (key == "stop") {
      p.stop = get_typed<std::vector<std::string>>(key, value);
      for (auto& s : p.stop)
        if (s.empty()) errors::fail(errors::kInvalidArgument, "Option 'stop' must not contain empty strings");
      if (p.stop.size() > 16) errors::fail(errors::kInvalidArgument, "Option 'stop' takes at most 16 strings");
    } else {
      unknown_key(key, known);
    }
  }
  return p;
}

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 0x2) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace halod

// Parsing and checking of the a{sv} option dictionaries of LoadModel and
// Generate. Unknown keys, wrong value types and out-of-range values throw
// sdbus::Error(InvalidArgument) with a message that names the key and says
// what is expected.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <sdbus-c++/Types.h>
#include <string>

#include "engine/session/session.h"

namespace halod {

using VariantMap = std::map<std::string, sdbus::Variant>;

struct LoadModelOptions {
  std::string backend;                // empty: the configured default
  uint32_t context_length = 0;        // 0: the backend's default
  std::optional<int32_t> keep_alive;  // unset: the configured default
  bool pinned = false;
};

LoadModelOptions parse_load_options(const VariantMap& options);

struct GenerateLimits {
  uint32_t default_max_tokens = 256;
  uint32_t max_tokens_limit = 4096;  // larger requests are refused
};

halo::GenerateParams parse_generate_options(const VariantMap& options, const GenerateLimits& limits);

// True when s is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
bool is_valid_utf8(std::string_view s);

}  // namespace halod

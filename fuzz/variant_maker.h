// Builds the a{sv} dictionaries a D-Bus client could send, from fuzz bytes:
// keys that halod knows or any others, values of every basic type and a few
// containers (as, au, a{sv}, (su)). Shared by the option and bus targets.
#pragma once
#include <fuzzer/FuzzedDataProvider.h>

#include <bit>
#include <cstdint>
#include <map>
#include <optional>
#include <sdbus-c++/sdbus-c++.h>
#include <span>
#include <string>
#include <vector>

namespace halo::fuzz {

using VariantMap = std::map<std::string, sdbus::Variant>;

// Every option key of LoadModel and Generate, so most entries hit a real one.
inline constexpr const char* kOptionKeys[] = {"backend", "context_length", "keep_alive", "pinned",
                                              "max_tokens", "temperature", "top_k", "top_p",
                                              "min_p", "repeat_penalty", "seed", "stop"};

class VariantMaker {
 public:
  explicit VariantMaker(FuzzedDataProvider& in) : in_(in) {}

  std::string text(size_t max_len = 64) { return in_.ConsumeRandomLengthString(max_len); }

  std::string key() {
    if (in_.ConsumeBool()) return kOptionKeys[in_.ConsumeIntegralInRange<size_t>(0, std::size(kOptionKeys) - 1)];
    return text(24);
  }

  // A value; nullopt when the bytes spell a string sd-bus refuses to send
  // (invalid UTF-8), which no client can put on the bus either.
  std::optional<sdbus::Variant> value(int depth = 0) {
    try {
      return make(in_.ConsumeIntegralInRange<int>(0, depth < 2 ? 16 : 13), depth);
    } catch (const sdbus::Error&) {
      return std::nullopt;
    }
  }

  VariantMap options(size_t max_entries = 8) {
    VariantMap map;
    const size_t n = in_.ConsumeIntegralInRange<size_t>(0, max_entries);
    for (size_t i = 0; i < n && in_.remaining_bytes() > 0; ++i) {
      std::string k = key();
      if (auto v = value()) map.insert_or_assign(std::move(k), std::move(*v));
    }
    return map;
  }

 private:
  sdbus::Variant make(int kind, int depth) {
    switch (kind) {
      case 0: return sdbus::Variant(text());
      case 1: return sdbus::Variant(in_.ConsumeIntegral<uint32_t>());
      case 2: return sdbus::Variant(in_.ConsumeIntegral<int32_t>());
      case 3: return sdbus::Variant(in_.ConsumeBool());
      // Raw bits: NaN, infinities, subnormals and negative zero included.
      case 4: return sdbus::Variant(std::bit_cast<double>(in_.ConsumeIntegral<uint64_t>()));
      case 5: return sdbus::Variant(in_.ConsumeFloatingPoint<double>());
      case 6: return sdbus::Variant(in_.ConsumeIntegral<uint64_t>());
      case 7: return sdbus::Variant(in_.ConsumeIntegral<int64_t>());
      case 8: return sdbus::Variant(in_.ConsumeIntegral<uint8_t>());
      case 9: return sdbus::Variant(in_.ConsumeIntegral<int16_t>());
      case 10: return sdbus::Variant(in_.ConsumeIntegral<uint16_t>());
      case 11: return sdbus::Variant(strings());
      case 12: return sdbus::Variant(sdbus::ObjectPath("/org/halod/Halod1"));
      case 13: return sdbus::Variant(in_.ConsumeIntegralInRange<uint32_t>(0, 64));  // small counts
      case 14: return sdbus::Variant(numbers());
      case 15: return sdbus::Variant(nested(depth));
      default: return sdbus::Variant(sdbus::Struct<std::string, uint32_t>(text(), in_.ConsumeIntegral<uint32_t>()));
    }
  }

  std::vector<std::string> strings() {
    std::vector<std::string> v(in_.ConsumeIntegralInRange<size_t>(0, 20));
    for (auto& s : v) s = text(16);
    return v;
  }

  std::vector<uint32_t> numbers() {
    std::vector<uint32_t> v(in_.ConsumeIntegralInRange<size_t>(0, 16));
    for (auto& x : v) x = in_.ConsumeIntegral<uint32_t>();
    return v;
  }

  VariantMap nested(int depth) {
    VariantMap map;
    const size_t n = in_.ConsumeIntegralInRange<size_t>(0, 3);
    for (size_t i = 0; i < n; ++i)
      if (auto v = value(depth + 1)) map.insert_or_assign(key(), std::move(*v));
    return map;
  }

  FuzzedDataProvider& in_;
};

}  // namespace halo::fuzz

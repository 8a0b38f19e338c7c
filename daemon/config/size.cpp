// parse_size(): "4GiB", "512 MiB", "1.5G", "8GB", "4096" -> bytes.
#include <array>
#include <cctype>
#include <stdexcept>
#include <string>

#include "daemon/config/config.h"

namespace halo::config {
namespace {

struct Unit {
  std::string_view name;
  uint64_t bytes;
};

constexpr uint64_t kKi = 1024;
constexpr uint64_t kK = 1000;

// Matched without regard to case except where it matters: "kB" and "KB" both
// mean 1000, "K" means 1024 as in systemd and sort(1).
constexpr std::array<Unit, 14> kUnits{{
    {"", 1},
    {"b", 1},
    {"k", kKi},
    {"kib", kKi},
    {"kb", kK},
    {"m", kKi* kKi},
    {"mib", kKi* kKi},
    {"mb", kK* kK},
    {"g", kKi* kKi* kKi},
    {"gib", kKi* kKi* kKi},
    {"gb", kK* kK* kK},
    {"t", kKi* kKi* kKi* kKi},
    {"tib", kKi* kKi* kKi* kKi},
    {"tb", kK* kK* kK* kK},
}};

[[noreturn]] void bad_size(std::string_view text, const std::string& why) {
  throw std::invalid_argument("\"" + std::string(text) + "\" is not a size (" + why +
                              "); expected bytes or a number with a unit such as 512MiB or 4GiB");
}

uint64_t unit_bytes(std::string_view text, std::string_view unit) {
  std::string lower;
  for (char c : unit) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& u : kUnits) {
    if (u.name == lower) return u.bytes;
  }
  bad_size(text, "unknown unit \"" + std::string(unit) + "\"");
}

}  // namespace

uint64_t parse_size(std::string_view text) {
  std::string_view rest = text;
  while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.front()))) rest.remove_prefix(1);
  while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.back()))) rest.remove_suffix(1);
  if (rest.empty()) bad_size(text, "empty");
  if (rest.front() == '-') bad_size(text, "negative");

  // Whole part and optional fraction, digit by digit so nothing overflows unseen.
  uint64_t whole = 0;
  size_t i = 0;
  for (; i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i])); ++i) {
    if (__builtin_mul_overflow(whole, 10, &whole) || __builtin_add_overflow(whole, rest[i] - '0', &whole)) {
      bad_size(text, "too large");
    }
  }
  if (i == 0) bad_size(text, "no number");
  std::string_view fraction;
  if (i < rest.size() && rest[i] == '.') {
    const size_t start = ++i;
    while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) ++i;
    fraction = rest.substr(start, i - start);
    if (fraction.empty()) bad_size(text, "no digits after the point");
    if (fraction.size() > 9) bad_size(text, "more than 9 decimal places");
  }
  std::string_view unit = rest.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  const uint64_t scale = unit_bytes(text, unit);

  uint64_t bytes = 0;
  if (__builtin_mul_overflow(whole, scale, &bytes)) bad_size(text, "too large");
  if (!fraction.empty()) {
    uint64_t numerator = 0, denominator = 1;
    for (char c : fraction) {
      numerator = numerator * 10 + static_cast<uint64_t>(c - '0');
      denominator *= 10;
    }
    if (scale == 1 && numerator != 0) bad_size(text, "a fraction of a byte");
    // numerator (< 1e9) x scale (<= 2^40) needs more than 64 bits.
    const unsigned __int128 part = static_cast<unsigned __int128>(numerator) * scale / denominator;
    if (__builtin_add_overflow(bytes, static_cast<uint64_t>(part), &bytes)) bad_size(text, "too large");
  }
  return bytes;
}

}  // namespace halo::config

// The config parser never crashes on damaged input: thousands of mutations
// of the shipped example either parse or throw ConfigError with a location.
#include <gtest/gtest.h>

#include <random>

#include "daemon/config/config.h"
#include "tests/temp_dir.h"

namespace halo::config {
namespace {

// Overwrites, inserts or deletes a few bytes, biased towards TOML's syntax.
std::string mutate(std::string text, std::mt19937& rng) {
  static const std::string interesting = "[]{}=\"'.,#\n\\-+0123456789eEinfnantruefalse \t\x80\xff";
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < edits && !text.empty(); ++i) {
    const size_t at = rng() % text.size();
    const char c = rng() % 4 == 0 ? static_cast<char>(rng() % 256) : interesting[rng() % interesting.size()];
    switch (rng() % 3) {
      case 0:
        text[at] = c;
        break;
      case 1:
        text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), c);
        break;
      default:
        text.erase(at, 1 + rng() % 8);
        break;
    }
  }
  return text;
}

TEST(ConfigMutation, DamagedFilesParseOrFailWithALocation) {
  const std::string example = test::read_text(HALOD_CONFIG_EXAMPLE);
  ASSERT_FALSE(example.empty());
  std::mt19937 rng(20261125);
  int rejected = 0;
  for (int i = 0; i < 3000; ++i) {
    const std::string text = mutate(example, rng);
    Config config;
    try {
      apply_toml(config, text, "m.toml");
    } catch (const ConfigError& e) {
      ++rejected;
      ASSERT_EQ(std::string(e.what()).rfind("m.toml:", 0), 0u) << e.what();
    }
  }
  // Most mutations break something; if none were rejected the checks are not running.
  EXPECT_GT(rejected, 1000);
}

TEST(ConfigMutation, SizesParseOrFailWithInvalidArgument) {
  std::mt19937 rng(7);
  const std::string alphabet = "0123456789.kKmMgGtTiIbB -e";
  int parsed = 0, rejected = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    for (size_t n = rng() % 12; n > 0; --n) text += alphabet[rng() % (i % 2 ? 10 : alphabet.size())];
    try {
      parse_size(text);
      ++parsed;
    } catch (const std::invalid_argument&) {
      ++rejected;
    }
  }
  EXPECT_GT(parsed, 1000);
  EXPECT_GT(rejected, 1000);
}

}  // namespace
}  // namespace halo::config

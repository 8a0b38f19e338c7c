// halod.toml parsing: defaults, every key, drop-in order, located errors, sizes.
#include "daemon/config/config.h"

#include <gtest/gtest.h>

#include "tests/temp_dir.h"

namespace halo::config {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

// The message of the ConfigError that loading text as "halod.toml" throws.
std::string error_of(const std::string& text) {
  Config config;
  try {
    apply_toml(config, text, "halod.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for:\n" << text;
  return "";
}

void expect_defaults(const Config& c) {
  EXPECT_EQ(c.model_dirs, (std::vector<std::filesystem::path>{"/var/lib/halod/models", "/usr/share/halod/models"}));
  EXPECT_TRUE(c.preload.empty());
  EXPECT_EQ(c.default_backend, "auto");
  EXPECT_FALSE(c.reserve);
  EXPECT_EQ(c.keep_alive, 300);
  EXPECT_EQ(c.context_length, 0u);
  EXPECT_EQ(c.max_queued, 8u);
  EXPECT_EQ(c.max_tokens, 4096u);
  EXPECT_EQ(c.max_prompt_bytes, kMiB);
  EXPECT_FALSE(c.polkit_in_session);
  EXPECT_EQ(c.sysfs_root, "/");
  EXPECT_EQ(c.cache_dir, "/var/cache/halod");
}

TEST(ConfigLoad, GivesDefaultsWhenTheMainFileIsMissing) {
  test::TempDir dir;
  Config config = load(dir.path() / "halod.toml");
  expect_defaults(config);
  EXPECT_TRUE(config.sources.empty());
}

TEST(ConfigLoad, FailsForAMissingFileTheUserNamed) {
  test::TempDir dir;
  EXPECT_THROW(load(dir.path() / "halod.toml", {.main_must_exist = true}), ConfigError);
}

TEST(ConfigLoad, FailsClearlyWhenTheFileCannotBeRead) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.path() / "halod.toml");  // a folder where the file should be
  try {
    load(dir.path() / "halod.toml");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find((dir.path() / "halod.toml").string()), std::string::npos) << e.what();
  }
}

TEST(ConfigLoad, TheInstalledExampleDocumentsTheRealDefaults) {
  Config config = load(HALOD_CONFIG_EXAMPLE, {.main_must_exist = true});
  expect_defaults(config);
  EXPECT_EQ(config.sources.size(), 1u);
}

TEST(ConfigParse, ReadsEveryKey) {
  Config c;
  apply_toml(c, R"(
model_dirs = ["/models", "/srv/gguf"]
default_backend = "vulkan"
reserve = "6GiB"
keep_alive = -1
context_length = 8192
cache_dir = "/tmp/cache"
sysfs_root = "/tmp/fake"
[queue]
max_queued = 2
max_tokens = 512
max_prompt_bytes = 65536
[polkit]
in_session = true
[[preload]]
path = "/models/a.gguf"
[[preload]]
path = "/models/b.gguf"
backend = "cpu"
pinned = true
keep_alive = 60
)",
             "t.toml");
  EXPECT_EQ(c.model_dirs, (std::vector<std::filesystem::path>{"/models", "/srv/gguf"}));
  EXPECT_EQ(c.default_backend, "vulkan");
  EXPECT_EQ(c.reserve, 6 * kGiB);
  EXPECT_EQ(c.keep_alive, -1);
  EXPECT_EQ(c.context_length, 8192u);
  EXPECT_EQ(c.cache_dir, "/tmp/cache");
  EXPECT_EQ(c.sysfs_root, "/tmp/fake");
  EXPECT_EQ(c.max_queued, 2u);
  EXPECT_EQ(c.max_tokens, 512u);
  EXPECT_EQ(c.max_prompt_bytes, 65536u);
  EXPECT_TRUE(c.polkit_in_session);
  ASSERT_EQ(c.preload.size(), 2u);
  EXPECT_EQ(c.preload[0].path, "/models/a.gguf");
  EXPECT_EQ(c.preload[0].backend, "auto");
  EXPECT_FALSE(c.preload[0].pinned);
  EXPECT_FALSE(c.preload[0].keep_alive);
  EXPECT_EQ(c.preload[1].backend, "cpu");
  EXPECT_TRUE(c.preload[1].pinned);
  EXPECT_EQ(c.preload[1].keep_alive, 60);
}

TEST(ConfigParse, TakesTheReserveAsBytesOrWithAUnit) {
  Config c;
  apply_toml(c, "reserve = 4294967296", "t");
  EXPECT_EQ(c.reserve, 4 * kGiB);
  apply_toml(c, "reserve = \"512MiB\"", "t");
  EXPECT_EQ(c.reserve, 512 * kMiB);
}

TEST(ConfigLoad, AppliesDropInsInNameOrderLaterWinning) {
  test::TempDir dir;
  dir.write("halod.toml", "keep_alive = 10\ndefault_backend = \"cpu\"\nmodel_dirs = [\"/a\", \"/b\"]\n");
  dir.write("halod.toml.d/20-later.toml", "keep_alive = 30\n");
  dir.write("halod.toml.d/10-first.conf", "keep_alive = 20\nmodel_dirs = [\"/c\"]\n[queue]\nmax_queued = 3\n");
  dir.write("halod.toml.d/99-ignored.txt", "this is not toml at all [");
  dir.write("halod.toml.d/99-ignored.conf.bak", "neither [");
  Config c = load(dir.path() / "halod.toml");
  EXPECT_EQ(c.keep_alive, 30);
  EXPECT_EQ(c.default_backend, "cpu");                                  // not overridden
  EXPECT_EQ(c.model_dirs, (std::vector<std::filesystem::path>{"/c"}));  // arrays are replaced whole
  EXPECT_EQ(c.max_queued, 3u);
  ASSERT_EQ(c.sources.size(), 3u);
  EXPECT_EQ(c.sources[0].filename(), "halod.toml");
  EXPECT_EQ(c.sources[1].filename(), "10-first.conf");
  EXPECT_EQ(c.sources[2].filename(), "20-later.toml");
}

TEST(ConfigLoad, AppliesDropInsEvenWithoutTheMainFile) {
  test::TempDir dir;
  dir.write("halod.toml.d/50-keep.conf", "keep_alive = 7\n");
  EXPECT_EQ(load(dir.path() / "halod.toml").keep_alive, 7);
}

TEST(ConfigLoad, NamesTheDropInThatIsWrong) {
  test::TempDir dir;
  dir.write("halod.toml", "keep_alive = 10\n");
  dir.write("halod.toml.d/50-bad.conf", "\n\nkeep_alive = \"long\"\n");
  try {
    load(dir.path() / "halod.toml");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    const std::string expected =
        (dir.path() / "halod.toml.d/50-bad.conf").string() + ":3:14: keep_alive: expected an integer, got a string";
    EXPECT_EQ(std::string(e.what()), expected);
  }
}

TEST(ConfigErrors, UnknownTopLevelKey) {
  EXPECT_EQ(error_of("keep_alive = 1\nmodel_dir = [\"/m\"]\n"),
            "halod.toml:2:1: unknown key \"model_dir\"; expected one of: cache_dir, context_length, "
            "default_backend, keep_alive, model_dirs, polkit, preload, queue, reserve, sysfs_root");
}

TEST(ConfigErrors, UnknownKeyInATable) {
  EXPECT_EQ(
      error_of("[queue]\nmax_queue = 3\n"),
      "halod.toml:2:1: unknown key \"queue.max_queue\"; expected one of: max_prompt_bytes, max_queued, max_tokens");
  EXPECT_EQ(error_of("[[preload]]\npath = \"/m/a.gguf\"\npinned = true\nkeepalive = 3\n"),
            "halod.toml:4:1: unknown key \"preload.keepalive\"; expected one of: backend, keep_alive, path, pinned");
}

TEST(ConfigErrors, WrongTypes) {
  EXPECT_EQ(error_of("model_dirs = \"/m\""), "halod.toml:1:14: model_dirs: expected an array, got a string");
  EXPECT_EQ(error_of("model_dirs = [\"/m\", 3]"), "halod.toml:1:21: model_dirs[]: expected a string, got an integer");
  EXPECT_EQ(error_of("[polkit]\nin_session = \"yes\""),
            "halod.toml:2:14: polkit.in_session: expected true or false, got a string");
  EXPECT_EQ(error_of("queue = 3"), "halod.toml:1:9: queue: expected a table, got an integer");
  EXPECT_EQ(error_of("context_length = 1.5"),
            "halod.toml:1:18: context_length: expected an integer, got a floating-point number");
  EXPECT_EQ(error_of("reserve = true"),
            "halod.toml:1:11: reserve: expected a size (bytes, or a string such as \"4GiB\"), got a boolean");
}

TEST(ConfigErrors, ValuesOutOfRange) {
  EXPECT_EQ(error_of("keep_alive = -2"), "halod.toml:1:14: keep_alive: -2 is out of range; expected -1 to 2147483647");
  EXPECT_EQ(error_of("[queue]\nmax_queued = 0"),
            "halod.toml:2:14: queue.max_queued: 0 is out of range; expected 1 to 4294967295");
  EXPECT_EQ(error_of("[queue]\nmax_prompt_bytes = \"0B\""),
            "halod.toml:2:20: queue.max_prompt_bytes: expected at least 1 byte");
}

TEST(ConfigErrors, BadSize) {
  const std::string message = error_of("\nreserve = \"4 GiBs\"");
  EXPECT_EQ(message.rfind("halod.toml:2:11: reserve: \"4 GiBs\" is not a size (unknown unit \"GiBs\")", 0), 0u)
      << message;
  EXPECT_NE(message.find("such as 512MiB or 4GiB"), std::string::npos);
  EXPECT_EQ(error_of("reserve = -5").rfind("halod.toml:1:11: reserve: -5 is out of range", 0), 0u);
}

TEST(ConfigErrors, UnknownBackendAndRelativePaths) {
  EXPECT_EQ(error_of("default_backend = \"cuda\""),
            "halod.toml:1:19: default_backend: unknown backend \"cuda\"; expected auto, vulkan, rocm or cpu");
  EXPECT_EQ(error_of("cache_dir = \"cache\""),
            "halod.toml:1:13: cache_dir: \"cache\" is not an absolute path; expected one starting with /");
}

TEST(ConfigErrors, PreloadWithoutPath) {
  const std::string message = error_of("[[preload]]\npinned = true\n");
  EXPECT_EQ(message.rfind("halod.toml:1:1: preload: this entry has no \"path\"", 0), 0u) << message;
}

TEST(ConfigErrors, TomlSyntax) {
  const std::string message = error_of("keep_alive = 3\n[queue\n");
  EXPECT_EQ(message.rfind("halod.toml:2:", 0), 0u) << message;
  EXPECT_NE(message.find("invalid TOML"), std::string::npos) << message;
}

TEST(ParseSize, AcceptsBytesAndUnits) {
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size("4GiB"), 4 * kGiB);
  EXPECT_EQ(parse_size("512MiB"), 512 * kMiB);
  EXPECT_EQ(parse_size("512 MiB"), 512 * kMiB);
  EXPECT_EQ(parse_size(" 8G "), 8 * kGiB);
  EXPECT_EQ(parse_size("1.5GiB"), kGiB + kGiB / 2);
  EXPECT_EQ(parse_size("2k"), 2048u);
  EXPECT_EQ(parse_size("8GB"), 8'000'000'000u);
  EXPECT_EQ(parse_size("1kB"), 1000u);
  EXPECT_EQ(parse_size("100B"), 100u);
  EXPECT_EQ(parse_size("1TiB"), 1024 * kGiB);
}

TEST(ParseSize, RejectsWhatIsNotASize) {
  for (const char* bad :
       {"", "GiB", "-1GiB", "4 GiBs", "1.5", "1.GiB", "99999999999999999999", "16777216TiB", "4 G iB"}) {
    EXPECT_THROW(parse_size(bad), std::invalid_argument) << bad;
  }
}

}  // namespace
}  // namespace halo::config

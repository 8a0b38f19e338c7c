// Option dictionaries, UTF-8 checks and model path rules, without a bus.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "daemon/manager.h"
#include "daemon/options.h"

namespace halod {
namespace {

std::string error_name(const std::function<void()>& f) {
  try {
    f();
  } catch (const sdbus::Error& e) {
    return e.getName();
  }
  return "";
}

constexpr const char* kInvalid = "org.halod.Halod1.Error.InvalidArgument";

TEST(LoadOptions, AcceptsEveryDocumentedKey) {
  VariantMap o = {{"backend", sdbus::Variant(std::string("cpu"))},
                  {"context_length", sdbus::Variant(uint32_t{2048})},
                  {"keep_alive", sdbus::Variant(int32_t{-1})},
                  {"pinned", sdbus::Variant(true)}};
  LoadModelOptions p = parse_load_options(o);
  EXPECT_EQ(p.backend, "cpu");
  EXPECT_EQ(p.context_length, 2048u);
  EXPECT_EQ(p.keep_alive, -1);
  EXPECT_TRUE(p.pinned);
}

TEST(LoadOptions, RefusesUnknownKeysWrongTypesAndBadValues) {
  EXPECT_EQ(error_name([] { parse_load_options({{"color", sdbus::Variant(1)}}); }), kInvalid);
  EXPECT_EQ(error_name([] { parse_load_options({{"pinned", sdbus::Variant(int32_t{1})}}); }), kInvalid);
  EXPECT_EQ(error_name([] { parse_load_options({{"keep_alive", sdbus::Variant(uint32_t{5})}}); }), kInvalid);
  EXPECT_EQ(error_name([] { parse_load_options({{"keep_alive", sdbus::Variant(int32_t{-2})}}); }), kInvalid);
  EXPECT_EQ(error_name([] { parse_load_options({{"backend", sdbus::Variant(std::string("gpu"))}}); }), kInvalid);
  EXPECT_EQ(error_name([] { parse_load_options({{"context_length", sdbus::Variant(uint32_t{0})}}); }), kInvalid);
}

TEST(LoadOptions, NamesTheKeyAndTheExpectedTypeInTheMessage) {
  try {
    parse_load_options({{"pinned", sdbus::Variant(std::string("yes"))}});
    FAIL();
  } catch (const sdbus::Error& e) {
    EXPECT_NE(e.getMessage().find("'pinned'"), std::string::npos);
    EXPECT_NE(e.getMessage().find("'b'"), std::string::npos);
  }
}

TEST(GenerateOptions, FillsTheEngineParameters) {
  VariantMap o = {{"max_tokens", sdbus::Variant(uint32_t{7})},     {"temperature", sdbus::Variant(0.5)},
                  {"top_k", sdbus::Variant(uint32_t{3})},          {"top_p", sdbus::Variant(0.9)},
                  {"min_p", sdbus::Variant(0.1)},                  {"repeat_penalty", sdbus::Variant(1.1)},
                  {"seed", sdbus::Variant(uint64_t{42})},
                  {"stop", sdbus::Variant(std::vector<std::string>{"\n\n"})}};
  halo::GenerateParams p = parse_generate_options(o, {});
  EXPECT_EQ(p.max_tokens, 7u);
  EXPECT_FLOAT_EQ(p.sampling.temperature, 0.5f);
  EXPECT_EQ(p.sampling.top_k, 3u);
  EXPECT_FLOAT_EQ(p.sampling.top_p, 0.9f);
  EXPECT_FLOAT_EQ(p.sampling.min_p, 0.1f);
  EXPECT_FLOAT_EQ(p.sampling.repeat_penalty, 1.1f);
  EXPECT_EQ(p.sampling.seed, 42u);
  EXPECT_EQ(p.stop, std::vector<std::string>{"\n\n"});
}

TEST(GenerateOptions, UsesTheConfiguredDefaultMaxTokens) {
  GenerateLimits limits;
  limits.default_max_tokens = 33;
  EXPECT_EQ(parse_generate_options({}, limits).max_tokens, 33u);
}

TEST(GenerateOptions, RefusesBadValues) {
  GenerateLimits limits;
  limits.max_tokens_limit = 100;
  auto fails = [&](VariantMap o) { return error_name([&] { parse_generate_options(o, limits); }); };
  EXPECT_EQ(fails({{"max_tokens", sdbus::Variant(uint32_t{0})}}), kInvalid);
  EXPECT_EQ(fails({{"max_tokens", sdbus::Variant(uint32_t{101})}}), kInvalid);
  EXPECT_EQ(fails({{"max_tokens", sdbus::Variant(int32_t{5})}}), kInvalid);
  EXPECT_EQ(fails({{"temperature", sdbus::Variant(std::nan(""))}}), kInvalid);
  EXPECT_EQ(fails({{"temperature", sdbus::Variant(-1.0)}}), kInvalid);
  EXPECT_EQ(fails({{"top_p", sdbus::Variant(1.5)}}), kInvalid);
  EXPECT_EQ(fails({{"seed", sdbus::Variant(int32_t{1})}}), kInvalid);
  EXPECT_EQ(fails({{"stop", sdbus::Variant(std::string("x"))}}), kInvalid);
  EXPECT_EQ(fails({{"stop", sdbus::Variant(std::vector<std::string>{""})}}), kInvalid);
  EXPECT_EQ(fails({{"n_predict", sdbus::Variant(uint32_t{5})}}), kInvalid);
}

TEST(Utf8, AcceptsWellFormedText) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain"));
  EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
}

TEST(Utf8, RefusesMalformedSequences) {
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("\xc3"));              // truncated
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(is_valid_utf8("a\x80z"));            // lone continuation
}

class ModelPaths : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "halod-paths-XXXXXX").string();
    ASSERT_TRUE(mkdtemp(pattern.data()));
    root_ = pattern;
    std::filesystem::create_directories(root_ / "models");
    std::filesystem::create_directories(root_ / "elsewhere");
    std::ofstream(root_ / "models" / "a.gguf") << "x";
    std::ofstream(root_ / "elsewhere" / "b.gguf") << "x";
    std::filesystem::create_symlink(root_ / "elsewhere" / "b.gguf", root_ / "models" / "escape.gguf");
    std::filesystem::create_symlink(root_ / "models" / "a.gguf", root_ / "elsewhere" / "in.gguf");
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::string p(const std::string& rel) { return (root_ / rel).string(); }
  std::filesystem::path root_;
};

TEST_F(ModelPaths, AllowsFilesInsideAModelDirectory) {
  EXPECT_EQ(resolve_model_path(p("models/a.gguf"), {p("models")}), p("models/a.gguf"));
  EXPECT_EQ(resolve_model_path(p("models/../models/a.gguf"), {p("models")}), p("models/a.gguf"));
}

TEST_F(ModelPaths, FollowsSymlinksBeforeDeciding) {
  EXPECT_EQ(error_name([&] { resolve_model_path(p("models/escape.gguf"), {p("models")}); }),
            "org.halod.Halod1.Error.AccessDenied");
  EXPECT_EQ(resolve_model_path(p("elsewhere/in.gguf"), {p("models")}), p("models/a.gguf"));
}

TEST_F(ModelPaths, RefusesOutsidersMissingFilesAndRelativePaths) {
  EXPECT_EQ(error_name([&] { resolve_model_path(p("elsewhere/b.gguf"), {p("models")}); }),
            "org.halod.Halod1.Error.AccessDenied");
  EXPECT_EQ(error_name([&] { resolve_model_path(p("models/none.gguf"), {p("models")}); }),
            "org.halod.Halod1.Error.NotFound");
  EXPECT_EQ(error_name([&] { resolve_model_path("models/a.gguf", {p("models")}); }), kInvalid);
  // A directory whose name merely starts like a model directory is not inside it.
  std::filesystem::create_directories(root_ / "models2");
  std::ofstream(root_ / "models2" / "c.gguf") << "x";
  EXPECT_EQ(error_name([&] { resolve_model_path(p("models2/c.gguf"), {p("models")}); }),
            "org.halod.Halod1.Error.AccessDenied");
}

}  // namespace
}  // namespace halod

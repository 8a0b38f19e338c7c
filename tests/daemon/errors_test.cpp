// Bad arguments to every method get a named error, and the daemon keeps serving.
#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <fstream>

#include "tests/daemon/halod_fixture.h"

namespace halod::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kLlama = "llama-spm-q4_k_m.gguf";
constexpr const char* kInvalid = "org.halod.Halod1.Error.InvalidArgument";
constexpr const char* kNotFound = "org.halod.Halod1.Error.NotFound";
constexpr const char* kAccessDenied = "org.halod.Halod1.Error.AccessDenied";
constexpr const char* kBadModel = "org.halod.Halod1.Error.BadModel";
constexpr const char* kBusy = "org.halod.Halod1.Error.Busy";

class BadArguments : public HalodTest {
 protected:
  void TearDown() override {
    // After every bad call the daemon still loads, generates and answers.
    if (manager_) {
      std::string path = load(kLlama);
      auto [text, stats] = ModelProxy(*bus_, path).GenerateText("ok", {{"max_tokens", sdbus::Variant(uint32_t{2})}});
      EXPECT_EQ(stats.at("generated_tokens").get<uint32_t>(), 2u);
    }
    HalodTest::TearDown();
  }
  std::string load_fd_error(int fd, const std::string& name, const VariantMap& options = {}) {
    return error_name_of([&] { manager_->LoadModelFd(sdbus::UnixFd(fd), name, options); });
  }
};

TEST_F(BadArguments, LoadModelRefusesBadOptions) {
  auto file = model_file(kLlama);
  EXPECT_EQ(error_name_of([&] { manager_->LoadModel(file, {{"colour", sdbus::Variant(1)}}); }), kInvalid);
  EXPECT_EQ(error_name_of([&] { manager_->LoadModel(file, {{"backend", sdbus::Variant(int32_t{1})}}); }), kInvalid);
  EXPECT_EQ(error_name_of([&] { manager_->LoadModel(file, {{"backend", sdbus::Variant(std::string("gpu"))}}); }),
            kInvalid);
  EXPECT_EQ(error_name_of([&] { manager_->LoadModel(file, {{"backend", sdbus::Variant(std::string("rocm"))}}); }),
            kInvalid);
  EXPECT_EQ(error_name_of([&] { manager_->LoadModel(file, {{"keep_alive", sdbus::Variant(int32_t{-7})}}); }),
            kInvalid);
  EXPECT_EQ(error_name_of([&] { manager_->LoadModel(file, {{"pinned", sdbus::Variant(std::string("yes"))}}); }),
            kInvalid);
  EXPECT_TRUE(manager_->ListModels().empty());
}

TEST_F(BadArguments, LoadModelOpensOnlyFilesInsideTheModelDirectories) {
  EXPECT_EQ(error_name_of([&] { manager_->LoadModel("relative.gguf", {}); }), kInvalid);
  EXPECT_EQ(error_name_of([&] { manager_->LoadModel("", {}); }), kInvalid);
  EXPECT_EQ(error_name_of([&] { manager_->LoadModel(model_file("missing.gguf"), {}); }), kNotFound);
  EXPECT_EQ(error_name_of([&] { manager_->LoadModel("/etc/passwd", {}); }), kAccessDenied);
  // A symlink inside a model directory that points outside is outside.
  std::filesystem::create_symlink("/etc/passwd", dir_->path() / "models" / "escape.gguf");
  EXPECT_EQ(error_name_of([&] { manager_->LoadModel((dir_->path() / "models" / "escape.gguf").string(), {}); }),
            kAccessDenied);
  // One that points into another model directory is fine.
  std::filesystem::create_symlink(model_file(kLlama), dir_->path() / "models" / "link.gguf");
  EXPECT_NO_THROW(manager_->LoadModel((dir_->path() / "models" / "link.gguf").string(), {}));
}

TEST_F(BadArguments, LoadModelReportsFilesThatAreNotModels) {
  dir_->write("models/empty.gguf", "");
  dir_->write("models/text.gguf", "this is not a GGUF file at all, only some text");
  std::ifstream real(model_file(kLlama), std::ios::binary);
  std::string head(4096, '\0');
  real.read(head.data(), head.size());
  dir_->write("models/truncated.gguf", head);
  for (auto name : {"empty.gguf", "text.gguf", "truncated.gguf"})
    EXPECT_EQ(error_name_of([&] { manager_->LoadModel((dir_->path() / "models" / name).string(), {}); }), kBadModel)
        << name;
  EXPECT_TRUE(manager_->ListModels().empty());
}

TEST_F(BadArguments, LoadModelFdChecksItsArguments) {
  int model = open(model_file(kLlama).c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_EQ(load_fd_error(model, ""), kInvalid);
  EXPECT_EQ(load_fd_error(model, "m", {{"nope", sdbus::Variant(true)}}), kInvalid);
  close(model);
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  EXPECT_EQ(load_fd_error(null, "null"), kInvalid);  // not a regular file
  close(null);
  int write_only = open((dir_->path() / "w.gguf").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  EXPECT_EQ(load_fd_error(write_only, "w"), kInvalid);
  close(write_only);
  int text = open((dir_->path() / "halod.toml").c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_EQ(load_fd_error(text, "halod.toml"), kBadModel);
  close(text);
}

TEST_F(BadArguments, GenerateRefusesBadPromptsAndOptions) {
  ModelProxy model(*bus_, load(kLlama));
  auto gen = [&](const std::string& prompt, const VariantMap& o) {
    return error_name_of([&] { model.Generate(prompt, o); });
  };
  EXPECT_EQ(gen("", {}), kInvalid);
  EXPECT_EQ(gen("hi", {{"max_tokens", sdbus::Variant(uint32_t{0})}}), kInvalid);
  EXPECT_EQ(gen("hi", {{"max_tokens", sdbus::Variant(uint32_t{4'000'000'000u})}}), kInvalid);
  EXPECT_EQ(gen("hi", {{"max_tokens", sdbus::Variant(int32_t{5})}}), kInvalid);
  EXPECT_EQ(gen("hi", {{"temperature", sdbus::Variant(std::nan(""))}}), kInvalid);
  EXPECT_EQ(gen("hi", {{"top_k", sdbus::Variant(std::string("5"))}}), kInvalid);
  EXPECT_EQ(gen("hi", {{"stop", sdbus::Variant(std::vector<std::string>{""})}}), kInvalid);
  EXPECT_EQ(gen("hi", {{"bogus", sdbus::Variant(1.0)}}), kInvalid);
  // Longer than the context (in tokens), and longer than max_prompt_bytes.
  std::string long_prompt;
  for (int i = 0; i < 3000; ++i) long_prompt += "word ";
  EXPECT_EQ(gen(long_prompt, {}), kInvalid);
  EXPECT_EQ(gen(std::string(100'000, 'a'), {}), kInvalid);
  EXPECT_EQ(model.State(), "ready");
}

TEST_F(BadArguments, GenerateTextRefusesTheSameWay) {
  ModelProxy model(*bus_, load(kLlama));
  EXPECT_EQ(error_name_of([&] { model.GenerateText("", {}); }), kInvalid);
  EXPECT_EQ(error_name_of([&] { model.GenerateText("hi", {{"seed", sdbus::Variant(int32_t{3})}}); }), kInvalid);
  EXPECT_EQ(error_name_of([&] { model.GenerateText(std::string(100'000, 'a'), {}); }), kInvalid);
}

TEST_F(BadArguments, InvalidUtf8NeverReachesTheDaemon) {
  // D-Bus strings must be UTF-8: the client library refuses to send it (the
  // daemon checks too, in case a client library does not).
  ModelProxy model(*bus_, load(kLlama));
  EXPECT_NE(error_name_of([&] { model.Generate(std::string("bad \xff\xfe bytes"), {}); }), "");
  // Tokens that end inside a character come back as valid UTF-8 (U+FFFD).
  auto bytes = model.Tokenize("\xe2\x82\xac");  // the euro sign, likely byte tokens
  std::vector<uint32_t> cut(bytes.begin() + 1, bytes.end() - (bytes.size() > 2 ? 1 : 0));
  EXPECT_NO_THROW(model.Detokenize(cut));
}

TEST_F(BadArguments, TokenizeDetokenizeAndSwitchCheckTheirArguments) {
  ModelProxy model(*bus_, load(kLlama));
  EXPECT_EQ(error_name_of([&] { model.Detokenize({1, 2, 999'999}); }), kInvalid);
  EXPECT_EQ(error_name_of([&] { model.Tokenize(std::string(100'000, 'a')); }), kInvalid);
  EXPECT_EQ(error_name_of([&] { model.SwitchBackend("gpu"); }), kInvalid);
  EXPECT_EQ(error_name_of([&] { model.SwitchBackend(""); }), kInvalid);
}

TEST_F(BadArguments, UnknownObjectsAndWrongSignaturesGetErrors) {
  ModelProxy ghost(*bus_, "/org/halod/Halod1/model/999");
  EXPECT_EQ(error_name_of([&] { ghost.Unload(); }), "org.freedesktop.DBus.Error.UnknownObject");
  RequestProxy no_request(*bus_, "/org/halod/Halod1/request/999");
  EXPECT_EQ(error_name_of([&] { no_request.Cancel(); }), "org.freedesktop.DBus.Error.UnknownObject");
  // A call with the wrong argument types never reaches a handler.
  auto raw = sdbus::createProxy(*bus_, "org.halod.Halod1", "/org/halod/Halod1");
  std::string name = error_name_of([&] {
    raw->callMethod("LoadModel").onInterface("org.halod.Halod1.Manager").withArguments(int32_t{5}, 2.0);
  });
  EXPECT_NE(name, "");
}

class FullQueue : public HalodTest {
 protected:
  void SetUp() override {
    DaemonOptions o;
    o.max_queued = 1;
    start(o);
  }
};

TEST_F(FullQueue, AnswersBusyWhenTheModelsQueueIsFull) {
  ModelProxy model(*bus_, load(kLlama));
  VariantMap long_run = {{"max_tokens", sdbus::Variant(uint32_t{900})}};
  auto [r1, s1] = model.Generate("first", long_run);
  StreamReader running(s1.get());
  running.read(1);  // the first is running, so the queue is empty again
  auto [r2, s2] = model.Generate("second", long_run);
  EXPECT_EQ(error_name_of([&] { model.Generate("third", long_run); }), kBusy);
  EXPECT_EQ(error_name_of([&] { model.GenerateText("third", long_run); }), kBusy);
  RequestProxy(*bus_, r1).Cancel();
  RequestProxy(*bus_, r2).Cancel();
  StreamReader queued(s2.get());
  EXPECT_EQ(running.read(SIZE_MAX, 20s).reason(), "cancelled");
  EXPECT_EQ(queued.read(SIZE_MAX, 20s).reason(), "cancelled");
}

}  // namespace
}  // namespace halod::test

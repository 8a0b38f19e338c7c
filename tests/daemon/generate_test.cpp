// halod on a private bus: load, generate (streamed and blocking), cancel by
// Request.Cancel, by closing the stream and by leaving the bus, unload.
#include <unistd.h>

#include "tests/daemon/halod_fixture.h"

namespace halod::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kLlama = "llama-spm-q4_k_m.gguf";

VariantMap greedy(uint32_t max_tokens) {
  return {{"max_tokens", sdbus::Variant(max_tokens)}, {"temperature", sdbus::Variant(0.0)}};
}

using AHalodOnAPrivateBus = HalodTest;

TEST_F(AHalodOnAPrivateBus, LoadsAFixtureModelAndDescribesIt) {
  std::string path = load(kLlama);
  EXPECT_EQ(path, "/org/halod/Halod1/model/1");
  EXPECT_EQ(manager_->ListModels(), std::vector<sdbus::ObjectPath>{path});
  ModelProxy model(*bus_, path);
  EXPECT_EQ(model.State(), "ready");
  EXPECT_EQ(model.Architecture(), "llama");
  EXPECT_EQ(model.Quantization(), "Q4_K");
  EXPECT_EQ(model.Backend(), "cpu");
  EXPECT_EQ(model.Path(), std::filesystem::canonical(model_file(kLlama)).string());  // symlinks resolved
  EXPECT_DOUBLE_EQ(model.LoadProgress(), 1.0);
  EXPECT_GT(model.Parameters(), 1'000'000u);
  EXPECT_GT(model.SizeBytes(), 10u << 20);
  EXPECT_GT(model.ContextLength(), 0u);
  EXPECT_EQ(model.KeepAlive(), 300);
  EXPECT_GT(manager_->PoolUsed(), 10u << 20);
  EXPECT_EQ(manager_->PoolBudget(), 512u << 20);
  EXPECT_NE(manager_->TtmStatus(), "unavailable");  // the fake tree has TTM parameters
}

TEST_F(AHalodOnAPrivateBus, StreamsOneJsonLinePerTokenAndAFinalLine) {
  ModelProxy model(*bus_, load(kLlama));
  auto [request, stream] = model.Generate("Once upon a time", greedy(12));
  EXPECT_EQ(std::string(request).rfind("/org/halod/Halod1/request/", 0), 0u);
  StreamReader reader(stream.get());
  const StreamResult& r = reader.read();
  ASSERT_TRUE(r.done) << halod_log();
  EXPECT_EQ(r.reason(), "length");
  EXPECT_EQ(r.tokens.size(), 12u);
  EXPECT_EQ(r.done->at("generated_tokens"), "12");
  EXPECT_NE(r.done->at("prompt_tokens"), "0");
  EXPECT_GT(std::stod(r.done->at("generate_tps")), 0.0);
  EXPECT_TRUE(reader.read().done);
}

TEST_F(AHalodOnAPrivateBus, GivesTheSameGreedyTextStreamedAndBlocking) {
  ModelProxy model(*bus_, load(kLlama));
  auto [request, stream] = model.Generate("The capital of France", greedy(10));
  StreamReader reader(stream.get());
  std::string streamed;
  for (auto& t : reader.read().texts) streamed += t;
  auto [text, stats] = model.GenerateText("The capital of France", greedy(10));
  EXPECT_EQ(text, streamed);
  EXPECT_EQ(stats.at("reason").get<std::string>(), "length");
  EXPECT_EQ(stats.at("generated_tokens").get<uint32_t>(), 10u);
  EXPECT_GT(stats.at("prompt_tokens").get<uint32_t>(), 0u);
  EXPECT_GT(stats.at("generate_tps").get<double>(), 0.0);
}

TEST_F(AHalodOnAPrivateBus, CancelsARequestMidStream) {
  ModelProxy model(*bus_, load(kLlama));
  auto [request, stream] = model.Generate("Tell me a long story", greedy(900));
  StreamReader reader(stream.get());
  ASSERT_EQ(reader.read(2).tokens.size(), 2u);
  EXPECT_EQ(model.State(), "busy");
  EXPECT_EQ(RequestProxy(*bus_, request).State(), "running");
  RequestProxy(*bus_, request).Cancel();
  const StreamResult& r = reader.read(SIZE_MAX, 20s);
  ASSERT_TRUE(r.done);
  EXPECT_EQ(r.reason(), "cancelled");
  EXPECT_LT(r.tokens.size(), 900u);
  EXPECT_TRUE(eventually([&] { return model.State() == "ready"; }, 10s));
}

TEST_F(AHalodOnAPrivateBus, CancelsWhenTheClientClosesTheStream) {
  ModelProxy model(*bus_, load(kLlama));
  {
    auto [request, stream] = model.Generate("Tell me a long story", greedy(900));
    StreamReader reader(stream.get());
    ASSERT_EQ(reader.read(1).tokens.size(), 1u);
  }  // the read end closes here
  EXPECT_TRUE(eventually([&] { return model.State() == "ready"; }, 20s)) << halod_log();
  EXPECT_NE(halod_log().find("Request 1 ended: cancelled"), std::string::npos) << halod_log();
  auto [text, stats] = model.GenerateText("Still serving?", greedy(2));
  EXPECT_EQ(stats.at("generated_tokens").get<uint32_t>(), 2u);
}

TEST_F(AHalodOnAPrivateBus, CancelsTheRequestsOfAClientThatLeavesTheBus) {
  std::string path = load(kLlama);
  sdbus::UnixFd stream;
  {
    auto other = sdbus::createSessionBusConnectionWithAddress(address_);
    ModelProxy model(*other, path);
    auto [request, fd] = model.Generate("Tell me a long story", greedy(900));
    stream = fd;
  }  // the other client disconnects here; we still hold its stream
  StreamReader reader(stream.get());
  const StreamResult& r = reader.read(SIZE_MAX, 20s);
  ASSERT_TRUE(r.done) << halod_log();
  EXPECT_EQ(r.reason(), "cancelled");
  EXPECT_LT(r.tokens.size(), 900u);
}

TEST_F(AHalodOnAPrivateBus, LetsOnlyTheStartingClientCancel) {
  ModelProxy model(*bus_, load(kLlama));
  auto [request, stream] = model.Generate("Tell me a long story", greedy(900));
  auto other = sdbus::createSessionBusConnectionWithAddress(address_);
  EXPECT_EQ(error_name_of([&] { RequestProxy(*other, request).Cancel(); }), "org.halod.Halod1.Error.AccessDenied");
  RequestProxy(*bus_, request).Cancel();
  StreamReader reader(stream.get());
  EXPECT_EQ(reader.read(SIZE_MAX, 20s).reason(), "cancelled");
}

TEST_F(AHalodOnAPrivateBus, UnloadsAModelAndForgetsIt) {
  std::string path = load(kLlama);
  ModelProxy(*bus_, path).Unload();
  EXPECT_TRUE(manager_->ListModels().empty());
  EXPECT_EQ(manager_->PoolUsed(), 0u);
  // The object is gone: a standard UnknownObject or our NotFound, never a crash.
  auto name = error_name_of([&] { ModelProxy(*bus_, path).State(); });
  EXPECT_TRUE(name == "org.freedesktop.DBus.Error.UnknownObject" || name == "org.halod.Halod1.Error.NotFound")
      << name;
  EXPECT_EQ(load(kLlama), "/org/halod/Halod1/model/2");
}

TEST_F(AHalodOnAPrivateBus, UnloadCancelsRunningRequests) {
  ModelProxy model(*bus_, load(kLlama));
  auto [request, stream] = model.Generate("Tell me a long story", greedy(900));
  StreamReader reader(stream.get());
  reader.read(1);
  model.Unload();
  EXPECT_EQ(reader.read(SIZE_MAX, 20s).reason(), "cancelled");
  EXPECT_TRUE(manager_->ListModels().empty());
}

TEST_F(AHalodOnAPrivateBus, TokenizesAndDetokenizes) {
  ModelProxy model(*bus_, load(kLlama));
  auto tokens = model.Tokenize("Hello world");
  ASSERT_GE(tokens.size(), 2u);
  EXPECT_EQ(tokens[0], 1u);  // BOS of the SentencePiece vocabulary
  std::vector<uint32_t> without_bos(tokens.begin() + 1, tokens.end());
  EXPECT_EQ(model.Detokenize(without_bos), " Hello world");
}

TEST_F(AHalodOnAPrivateBus, SwitchesToTheSameBackendAndRefusesUnavailableOnes) {
  ModelProxy model(*bus_, load(kLlama));
  EXPECT_EQ(model.SwitchBackend("cpu"), 0u);
  EXPECT_EQ(error_name_of([&] { model.SwitchBackend("rocm"); }), "org.halod.Halod1.Error.InvalidArgument");
  EXPECT_EQ(model.Backend(), "cpu");
  EXPECT_EQ(model.State(), "ready");
}

TEST_F(AHalodOnAPrivateBus, ServesSeveralClientsAtOnce) {
  std::string path = load(kLlama);
  auto a = sdbus::createSessionBusConnectionWithAddress(address_);
  auto b = sdbus::createSessionBusConnectionWithAddress(address_);
  auto [ra, sa] = ModelProxy(*a, path).Generate("First client", greedy(5));
  auto [rb, sb] = ModelProxy(*b, path).Generate("Second client", greedy(5));
  StreamReader reader_a(sa.get()), reader_b(sb.get());
  EXPECT_EQ(reader_a.read().reason(), "length");
  EXPECT_EQ(reader_b.read().reason(), "length");
}

TEST_F(AHalodOnAPrivateBus, StopsCleanlyOnSigtermWhileGenerating) {
  ModelProxy model(*bus_, load(kLlama));
  auto [request, stream] = model.Generate("Tell me a long story", greedy(900));
  StreamReader reader(stream.get());
  reader.read(1);
  stop_daemon();  // expects exit status 0
  EXPECT_EQ(reader.read(SIZE_MAX, 10s).reason(), "cancelled");
}

}  // namespace
}  // namespace halod::test

namespace halod::test {
namespace {

using ContextLength = HalodTest;

TEST_F(ContextLength, ComesFromTheLoadOptionAndBoundsThePrompt) {
  ModelProxy model(*bus_, load("llama-spm-q4_k_m.gguf", {{"context_length", sdbus::Variant(uint32_t{64})}}));
  EXPECT_EQ(model.ContextLength(), 64u);
  std::string prompt;
  for (int i = 0; i < 100; ++i) prompt += " word";
  try {
    model.Generate(prompt, {});
    FAIL() << "a prompt longer than the context was accepted";
  } catch (const sdbus::Error& e) {
    EXPECT_EQ(e.getName(), "org.halod.Halod1.Error.InvalidArgument");
    EXPECT_NE(e.getMessage().find("context holds 64"), std::string::npos) << e.getMessage();
  }
  // Generation stops at the end of the context with reason "length".
  auto [text, stats] = model.GenerateText("Short prompt", {{"max_tokens", sdbus::Variant(uint32_t{200})}});
  EXPECT_EQ(stats.at("reason").get<std::string>(), "length");
  // The last token is sampled from the logits of position 63 and needs no KV entry of its own.
  EXPECT_EQ(stats.at("prompt_tokens").get<uint32_t>() + stats.at("generated_tokens").get<uint32_t>(), 65u);
}

}  // namespace
}  // namespace halod::test

namespace halod::test {
namespace {

using Switching = HalodTest;

TEST_F(Switching, MovesALoadedModelToVulkanAndBackWhenVulkanIsBuilt) {
  bool have_vulkan = false;
  for (auto& b : manager_->Backends()) have_vulkan |= std::get<0>(b) == "vulkan";
  if (!have_vulkan) GTEST_SKIP() << "this build has no usable Vulkan backend";
  ModelProxy model(*bus_, load("llama-spm-q4_k_m.gguf"));
  const VariantMap greedy3 = {{"max_tokens", sdbus::Variant(uint32_t{3})}, {"temperature", sdbus::Variant(0.0)}};
  auto [cpu_text, cpu_stats] = model.GenerateText("Hello", greedy3);
  EXPECT_GT(model.SwitchBackend("vulkan"), 0u);
  EXPECT_EQ(model.Backend(), "vulkan");
  EXPECT_EQ(model.State(), "ready");
  auto [vk_text, vk_stats] = model.GenerateText("Hello", greedy3);
  EXPECT_EQ(vk_stats.at("generated_tokens").get<uint32_t>(), 3u);
  EXPECT_EQ(vk_text, cpu_text);  // the first tokens of this model lead by a clear margin
  EXPECT_GT(model.SwitchBackend("cpu"), 0u);
  EXPECT_EQ(model.Backend(), "cpu");
}

}  // namespace
}  // namespace halod::test

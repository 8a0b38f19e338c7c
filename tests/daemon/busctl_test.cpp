// The same daemon driven by real command line tools: busctl (as a desktop
// script would) and the built haloctl.
#include "tests/daemon/halod_fixture.h"

namespace halod::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kLlama = "llama-spm-q4_k_m.gguf";
const std::string kManager = "/org/halod/Halod1";
const std::string kManagerIface = "org.halod.Halod1.Manager";
const std::string kModelIface = "org.halod.Halod1.Model";

using FromBusctl = HalodTest;

TEST_F(FromBusctl, IntrospectionShowsTheDocumentedInterface) {
  int status = -1;
  std::string out = busctl({"introspect", "org.halod.Halod1", kManager}, &status);
  EXPECT_EQ(status, 0);
  for (auto name : {".LoadModel", ".LoadModelFd", ".ListModels", ".PoolBudget", ".TtmStatus", ".TtmWarnings",
                    "org.freedesktop.DBus.ObjectManager"})
    EXPECT_NE(out.find(name), std::string::npos) << name;
}

TEST_F(FromBusctl, LoadsGeneratesAndUnloads) {
  int status = -1;
  // "--": busctl would read "-1" as an option.
  std::string out = busctl({"call", "--", "org.halod.Halod1", kManager, kManagerIface, "LoadModel", "sa{sv}",
                            model_file(kLlama), "1", "keep_alive", "i", "-1"},
                           &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(out, "o \"/org/halod/Halod1/model/1\"\n");
  std::string model = "/org/halod/Halod1/model/1";
  out = busctl({"get-property", "org.halod.Halod1", model, kModelIface, "State"}, &status);
  EXPECT_EQ(out, "s \"ready\"\n");
  out = busctl({"call", "org.halod.Halod1", model, kModelIface, "GenerateText", "sa{sv}", "Hello", "2", "max_tokens",
                "u", "4", "temperature", "d", "0"},
               &status);
  EXPECT_EQ(status, 0) << halod_log();
  EXPECT_EQ(out.rfind("sa{sv} \"", 0), 0u) << out;
  EXPECT_NE(out.find("\"generated_tokens\" u 4"), std::string::npos) << out;
  EXPECT_NE(out.find("\"reason\" s \"length\""), std::string::npos) << out;
  out = busctl({"call", "org.halod.Halod1", model, kModelIface, "Unload"}, &status);
  EXPECT_EQ(status, 0);
  out = busctl({"call", "org.halod.Halod1", kManager, kManagerIface, "ListModels"}, &status);
  EXPECT_EQ(out, "ao 0\n");
}

TEST_F(FromBusctl, SeesModelsThroughTheObjectManager) {
  load(kLlama);
  int status = -1;
  std::string out = busctl({"call", "org.halod.Halod1", kManager, "org.freedesktop.DBus.ObjectManager",
                            "GetManagedObjects"},
                           &status);
  EXPECT_EQ(status, 0);
  EXPECT_NE(out.find("\"/org/halod/Halod1/model/1\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"org.halod.Halod1.Model\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"State\" s \"ready\""), std::string::npos) << out;
}

TEST_F(FromBusctl, GetsNamedErrorsForBadCalls) {
  int status = -1;
  // busctl prints the message and fails; the daemon stays up.
  busctl({"call", "org.halod.Halod1", kManager, kManagerIface, "LoadModel", "sa{sv}", "/etc/passwd", "0"}, &status);
  EXPECT_NE(status, 0);
  busctl({"call", "org.halod.Halod1", kManager, kManagerIface, "LoadModel", "sa{sv}", model_file(kLlama), "1",
          "pinned", "s", "yes"},
         &status);
  EXPECT_NE(status, 0);
  busctl({"call", "org.halod.Halod1", kManager, kManagerIface, "LoadModel", "i", "5"}, &status);
  EXPECT_NE(status, 0);
  EXPECT_EQ(busctl({"call", "org.halod.Halod1", kManager, kManagerIface, "ListModels"}, &status), "ao 0\n");
  EXPECT_EQ(status, 0);
}

using FromHaloctl = HalodTest;

TEST_F(FromHaloctl, LoadsWithAnOpenFileAndListsIt) {
  int status = -1;
  // The file is outside the model directories: haloctl passes a descriptor.
  std::filesystem::copy_file(model_file(kLlama), dir_->path() / "own.gguf");
  std::string out = haloctl({"load", (dir_->path() / "own.gguf").string(), "--keep-alive", "5m", "--pin"}, &status);
  EXPECT_EQ(status, 0) << out << halod_log();
  EXPECT_NE(out.find("/org/halod/Halod1/model/1"), std::string::npos) << out;
  out = haloctl({"ps", "--json"}, &status);
  EXPECT_EQ(status, 0);
  EXPECT_NE(out.find("\"keep_alive\": 300"), std::string::npos) << out;
  EXPECT_NE(out.find("\"pinned\": true"), std::string::npos) << out;
  EXPECT_NE(out.find("own.gguf"), std::string::npos) << out;
}

TEST_F(FromHaloctl, GeneratesStreamedText) {
  load(kLlama);
  int status = -1;
  std::string out = haloctl({"generate", "1", "Hello", "-n", "5", "--temp", "0", "--json"}, &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("\"done\":true"), std::string::npos) << out;
  EXPECT_NE(out.find("\"generated_tokens\":5"), std::string::npos) << out;
  // The same greedy text as the blocking call.
  std::string plain = haloctl({"generate", "1", "Hello", "-n", "5", "--temp", "0"}, &status);
  auto [text, stats] = ModelProxy(*bus_, "/org/halod/Halod1/model/1")
                           .GenerateText("Hello", {{"max_tokens", sdbus::Variant(uint32_t{5})},
                                                   {"temperature", sdbus::Variant(0.0)}});
  EXPECT_EQ(plain, text + "\n");
}

TEST_F(FromHaloctl, ExitCodesTellErrorsApart) {
  int status = -1;
  haloctl({"unload", "nothing-loaded"}, &status);
  EXPECT_EQ(status, 3);  // NotFound
  haloctl({"load", "/nonexistent/model.gguf"}, &status);
  EXPECT_EQ(status, 3);
  dir_->write("junk.gguf", "not a model");
  haloctl({"load", (dir_->path() / "junk.gguf").string()}, &status);
  EXPECT_EQ(status, 7);  // BadModel
  haloctl({"load", model_file(kLlama), "--backend", "warp"}, &status);
  EXPECT_EQ(status, 2);  // InvalidArgument
  haloctl({"status", "--json"}, &status);
  EXPECT_EQ(status, 0);
  stop_daemon();
  haloctl({"status"}, &status);
  EXPECT_EQ(status, 8);  // no daemon
}

TEST_F(FromHaloctl, HandsTheTtmSubcommandToTheTtmTool) {
  int status = -1;
  std::string out = haloctl({"ttm", "recommend", "--ram", "64GiB", "--reserve", "4GiB"}, &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("pages_limit"), std::string::npos) << out;
}

TEST_F(FromHaloctl, UnloadsByName) {
  load(kLlama);
  int status = -1;
  haloctl({"unload", kLlama}, &status);
  EXPECT_EQ(status, 0);
  EXPECT_TRUE(manager_->ListModels().empty());
}

}  // namespace
}  // namespace halod::test

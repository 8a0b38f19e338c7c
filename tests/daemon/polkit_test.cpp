// Authorization: with [polkit] in_session = true, halod asks polkit (here a
// mock org.freedesktop.PolicyKit1 on the private bus) before acting.
#include <mutex>
#include <set>

#include "tests/daemon/halod_fixture.h"

namespace halod::test {
namespace {

constexpr const char* kLlama = "llama-spm-q4_k_m.gguf";

// Answers CheckAuthorization from its own thread: allowed actions pass, the
// rest are refused. Records every question.
class MockPolkit {
 public:
  MockPolkit(const std::string& address, std::set<std::string> allowed) : allowed_(std::move(allowed)) {
    bus_ = sdbus::createSessionBusConnectionWithAddress(address);
    bus_->requestName("org.freedesktop.PolicyKit1");
    object_ = sdbus::createObject(*bus_, "/org/freedesktop/PolicyKit1/Authority");
    using Subject = sdbus::Struct<std::string, std::map<std::string, sdbus::Variant>>;
    using Result = sdbus::Struct<bool, bool, std::map<std::string, std::string>>;
    object_->registerMethod("CheckAuthorization")
        .onInterface("org.freedesktop.PolicyKit1.Authority")
        .implementedAs([this](const Subject& subject, const std::string& action,
                              const std::map<std::string, std::string>&, uint32_t flags, const std::string&) {
          std::lock_guard lock(mu_);
          asked_.push_back({std::get<0>(subject), std::get<1>(subject).at("name").get<std::string>(), action, flags});
          return Result{allowed_.count(action) > 0, false, {}};
        });
    object_->finishRegistration();
    bus_->enterEventLoopAsync();
  }
  ~MockPolkit() { bus_->leaveEventLoop(); }

  struct Question {
    std::string kind, name, action;
    uint32_t flags;
  };
  std::vector<Question> asked() {
    std::lock_guard lock(mu_);
    return asked_;
  }

 private:
  std::set<std::string> allowed_;
  std::unique_ptr<sdbus::IConnection> bus_;
  std::unique_ptr<sdbus::IObject> object_;
  std::mutex mu_;
  std::vector<Question> asked_;
};

class WithPolkit : public HalodTest {
 protected:
  void SetUp() override {
    DaemonOptions o;
    o.extra_toml = "[polkit]\nin_session = true\n";
    o.env = {"HALOD_POLKIT_BUS_ADDRESS=@BUS@"};
    start(o);
  }
};

TEST_F(WithPolkit, AsksPolkitAboutTheCallerAndObeysIt) {
  MockPolkit polkit(address_, {"org.halod.load", "org.halod.generate"});
  std::string path = load(kLlama);
  ModelProxy model(*bus_, path);
  auto [text, stats] = model.GenerateText("hi", {{"max_tokens", sdbus::Variant(uint32_t{2})}});
  EXPECT_EQ(stats.at("generated_tokens").get<uint32_t>(), 2u);
  EXPECT_EQ(error_name_of([&] { model.Unload(); }), "org.halod.Halod1.Error.AccessDenied");
  EXPECT_EQ(error_name_of([&] { model.SwitchBackend("cpu"); }), "org.halod.Halod1.Error.AccessDenied");
  EXPECT_EQ(manager_->ListModels().size(), 1u);

  auto asked = polkit.asked();
  ASSERT_EQ(asked.size(), 4u);
  EXPECT_EQ(asked[0].action, "org.halod.load");
  EXPECT_EQ(asked[1].action, "org.halod.generate");
  EXPECT_EQ(asked[2].action, "org.halod.unload");
  EXPECT_EQ(asked[3].action, "org.halod.configure");
  for (auto& q : asked) {
    EXPECT_EQ(q.kind, "system-bus-name");
    EXPECT_EQ(q.name, bus_->getUniqueName());
    EXPECT_EQ(q.flags, 1u);  // the user may be asked to authenticate
  }
}

TEST_F(WithPolkit, RefusesWhenPolkitCannotBeReached) {
  try {
    load(kLlama);
    FAIL() << "loaded without an answer from polkit";
  } catch (const sdbus::Error& e) {
    EXPECT_EQ(e.getName(), "org.halod.Halod1.Error.AccessDenied");
    EXPECT_NE(e.getMessage().find("polkit"), std::string::npos) << e.getMessage();
  }
  // Unprivileged reads still work.
  EXPECT_TRUE(manager_->ListModels().empty());
}

using WithoutPolkit = HalodTest;

TEST_F(WithoutPolkit, DoesNotAskOnTheSessionBusByDefault) {
  MockPolkit polkit(address_, {});
  ModelProxy(*bus_, load(kLlama)).Unload();
  EXPECT_TRUE(polkit.asked().empty());
}

}  // namespace
}  // namespace halod::test

// Authorization: with [polkit] in_session = true, halod asks polkit (here a
// mock org.freedesktop.PolicyKit1 on the private bus) before acting, without
// making everyone else wait while polkit thinks.
#include <poll.h>

#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "tests/daemon/halod_fixture.h"

namespace halod::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kLlama = "llama-spm-q4_k_m.gguf";
constexpr const char* kQwen2 = "qwen2-spm-q4_0.gguf";
constexpr const char* kAccessDenied = "org.halod.Halod1.Error.AccessDenied";

// Answers CheckAuthorization from its own thread: allowed actions pass, the
// rest are refused. Records every question. Questions that hold_if() matches
// are parked, unanswered, until release(); fail_with_error() makes it answer
// with a D-Bus error instead of a verdict.
class MockPolkit {
 public:
  struct Question {
    std::string kind, name, action;
    uint32_t flags;
  };
  using Subject = sdbus::Struct<std::string, std::map<std::string, sdbus::Variant>>;
  using Verdict = sdbus::Struct<bool, bool, std::map<std::string, std::string>>;

  MockPolkit(const std::string& address, std::set<std::string> allowed) : allowed_(std::move(allowed)) {
    bus_ = sdbus::createSessionBusConnectionWithAddress(address);
    bus_->requestName("org.freedesktop.PolicyKit1");
    object_ = sdbus::createObject(*bus_, "/org/freedesktop/PolicyKit1/Authority");
    object_->registerMethod("CheckAuthorization")
        .onInterface("org.freedesktop.PolicyKit1.Authority")
        .implementedAs([this](sdbus::Result<Verdict>&& result, const Subject& subject, const std::string& action,
                              const std::map<std::string, std::string>&, uint32_t flags, const std::string&) {
          const std::string name = std::get<1>(subject).at("name").get<std::string>();
          ask(std::move(result), {std::get<0>(subject), name, action, flags});
        });
    object_->finishRegistration();
    thread_ = std::thread([this] { serve(); });
  }
  ~MockPolkit() {
    stop_ = true;
    thread_.join();
  }

  void hold_if(std::function<bool(const Question&)> pred) {
    std::lock_guard lock(mu_);
    hold_if_ = std::move(pred);
  }
  // Answers every parked question (on the mock's thread, soon).
  void release() {
    std::lock_guard lock(mu_);
    hold_if_ = nullptr;
    release_ = true;
  }
  void fail_with_error() {
    std::lock_guard lock(mu_);
    fail_ = true;
  }
  size_t parked() {
    std::lock_guard lock(mu_);
    return parked_.size();
  }
  std::vector<Question> asked() {
    std::lock_guard lock(mu_);
    return asked_;
  }

 private:
  struct Parked {
    sdbus::Result<Verdict> result;
    std::string action;
  };

  // On the mock's thread (inside processPendingRequest).
  void ask(sdbus::Result<Verdict>&& result, Question q) {
    std::lock_guard lock(mu_);
    asked_.push_back(q);
    if (hold_if_ && hold_if_(q))
      parked_.push_back({std::move(result), q.action});
    else
      answer(result, q.action);
  }
  void answer(const sdbus::Result<Verdict>& result, const std::string& action) {
    if (fail_)
      result.returnError(sdbus::Error("org.freedesktop.PolicyKit1.Error.Failed", "the mock was told to fail"));
    else
      result.returnResults(Verdict{allowed_.count(action) > 0, false, {}});
  }
  // The connection is used from this thread only.
  void serve() {
    while (!stop_) {
      auto data = bus_->getEventLoopPollData();
      pollfd p{data.fd, data.events, 0};
      poll(&p, 1, 10);
      while (bus_->processPendingRequest()) {
      }
      std::lock_guard lock(mu_);
      if (!release_) continue;
      for (auto& parked : parked_) answer(parked.result, parked.action);
      parked_.clear();
      release_ = false;
    }
  }

  std::set<std::string> allowed_;
  std::unique_ptr<sdbus::IConnection> bus_;
  std::unique_ptr<sdbus::IObject> object_;
  std::thread thread_;
  std::atomic<bool> stop_ = false;
  std::mutex mu_;
  std::vector<Question> asked_;
  std::function<bool(const Question&)> hold_if_;
  std::vector<Parked> parked_;
  bool release_ = false;
  bool fail_ = false;
};

class WithPolkit : public HalodTest {
 protected:
  void SetUp() override { start_with_polkit(); }
  void start_with_polkit(std::vector<std::string> env = {}) {
    DaemonOptions o;
    o.extra_toml = "[polkit]\nin_session = true\n";
    o.env = std::move(env);
    o.env.push_back("HALOD_POLKIT_BUS_ADDRESS=@BUS@");
    start(o);
  }
  // A second client, whose questions the tests park.
  std::unique_ptr<sdbus::IConnection> other_client() { return sdbus::createSessionBusConnectionWithAddress(address_); }
  static std::function<bool(const MockPolkit::Question&)> from(const sdbus::IConnection& client) {
    return [name = client.getUniqueName()](const MockPolkit::Question& q) { return q.name == name; };
  }
};

TEST_F(WithPolkit, AsksPolkitAboutTheCallerAndObeysIt) {
  MockPolkit polkit(address_, {"org.halod.load", "org.halod.generate"});
  std::string path = load(kLlama);
  ModelProxy model(*bus_, path);
  auto [text, stats] = model.GenerateText("hi", {{"max_tokens", sdbus::Variant(uint32_t{2})}});
  EXPECT_EQ(stats.at("generated_tokens").get<uint32_t>(), 2u);
  EXPECT_EQ(error_name_of([&] { model.Unload(); }), kAccessDenied);
  EXPECT_EQ(error_name_of([&] { model.SwitchBackend("cpu"); }), kAccessDenied);
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

TEST_F(WithPolkit, ServesOtherClientsWhileACheckWaits) {
  MockPolkit polkit(address_, {"org.halod.load", "org.halod.generate"});
  auto other = other_client();
  polkit.hold_if(from(*other));
  auto first = std::async(std::launch::async, [&] { return ManagerProxy(*other).LoadModel(model_file(kLlama), {}); });
  ASSERT_TRUE(eventually([&] { return polkit.parked() == 1; }, 10s));

  // Reads, and a load and a generation by an allowed caller, all while polkit
  // still thinks about the first load.
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(manager_->ListModels().empty());
  EXPECT_EQ(manager_->PoolBudget(), 512u << 20);
  std::string second = load(kQwen2);
  auto [text, stats] = ModelProxy(*bus_, second).GenerateText("hi", {{"max_tokens", sdbus::Variant(uint32_t{2})}});
  EXPECT_EQ(stats.at("generated_tokens").get<uint32_t>(), 2u);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_EQ(first.wait_for(0s), std::future_status::timeout);

  polkit.release();
  ASSERT_EQ(first.wait_for(20s), std::future_status::ready);
  std::string path = first.get();  // allowed: the load goes ahead
  EXPECT_EQ(manager_->ListModels().size(), 2u);
  EXPECT_EQ(ModelProxy(*bus_, path).State(), "ready");
}

TEST_F(WithPolkit, RefusesAfterTheWaitWhenPolkitSaysNo) {
  MockPolkit polkit(address_, {"org.halod.load", "org.halod.generate"});
  std::string path = load(kLlama);
  auto other = other_client();
  polkit.hold_if(from(*other));
  auto unload = std::async(std::launch::async, [&] {
    return error_name_of([&] { ModelProxy(*other, path).Unload(); });
  });
  ASSERT_TRUE(eventually([&] { return polkit.parked() == 1; }, 10s));

  auto [text, stats] = ModelProxy(*bus_, path).GenerateText("hi", {{"max_tokens", sdbus::Variant(uint32_t{2})}});
  EXPECT_EQ(stats.at("generated_tokens").get<uint32_t>(), 2u);
  EXPECT_EQ(unload.wait_for(0s), std::future_status::timeout);

  polkit.release();
  ASSERT_EQ(unload.wait_for(20s), std::future_status::ready);
  EXPECT_EQ(unload.get(), kAccessDenied);
  EXPECT_EQ(manager_->ListModels().size(), 1u);
}

TEST_F(WithPolkit, AnswersNotFoundWhenTheModelWentAwayDuringTheCheck) {
  MockPolkit polkit(address_, {"org.halod.load", "org.halod.generate", "org.halod.unload"});
  std::string path = load(kLlama);
  auto other = other_client();
  polkit.hold_if(from(*other));
  auto generate = std::async(std::launch::async, [&] {
    return error_name_of([&] { ModelProxy(*other, path).GenerateText("hi", {}); });
  });
  ASSERT_TRUE(eventually([&] { return polkit.parked() == 1; }, 10s));
  ModelProxy(*bus_, path).Unload();
  EXPECT_TRUE(manager_->ListModels().empty());

  polkit.release();
  ASSERT_EQ(generate.wait_for(20s), std::future_status::ready);
  EXPECT_EQ(generate.get(), "org.halod.Halod1.Error.NotFound");
  EXPECT_EQ(manager_->Version().empty(), false);  // still serving
}

TEST_F(WithPolkit, DropsTheCheckOfAClientThatLeaves) {
  MockPolkit polkit(address_, {"org.halod.load"});
  auto other = other_client();
  polkit.hold_if(from(*other));
  // Sent without waiting: the client hangs up before any answer.
  auto proxy = sdbus::createProxy(*other, "org.halod.Halod1", "/org/halod/Halod1");
  proxy->callMethodAsync("LoadModel")
      .onInterface("org.halod.Halod1.Manager")
      .withArguments(model_file(kLlama), VariantMap{})
      .uponReplyInvoke([](const sdbus::Error*, sdbus::ObjectPath) {});
  ASSERT_TRUE(eventually([&] { return polkit.parked() == 1; }, 10s));
  proxy.reset();
  other.reset();
  EXPECT_TRUE(eventually([&] { return halod_log().find("left the bus") != std::string::npos; }, 10s)) << halod_log();

  polkit.release();  // polkit says yes, to a caller that is gone
  ASSERT_TRUE(eventually([&] { return polkit.parked() == 0; }, 10s));
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(manager_->ListModels().empty());  // nothing loaded for nobody
  EXPECT_EQ(manager_->PoolUsed(), 0u);
}

TEST_F(WithPolkit, RefusesWhenPolkitDoesNotAnswerInTime) {
  start_with_polkit({"HALOD_POLKIT_TIMEOUT_MS=1000"});
  MockPolkit polkit(address_, {"org.halod.load"});
  auto other = other_client();
  polkit.hold_if(from(*other));  // and never released
  auto t0 = std::chrono::steady_clock::now();
  auto first = std::async(std::launch::async, [&] {
    try {
      ManagerProxy(*other).LoadModel(model_file(kLlama), {});
      return std::string("loaded");
    } catch (const sdbus::Error& e) {
      return e.getName() + ": " + e.getMessage();
    }
  });
  ASSERT_TRUE(eventually([&] { return polkit.parked() == 1; }, 10s));
  EXPECT_TRUE(manager_->ListModels().empty());  // served meanwhile
  ASSERT_EQ(first.wait_for(20s), std::future_status::ready);
  std::string answer = first.get();
  auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(answer.rfind(kAccessDenied, 0), 0u) << answer;
  EXPECT_NE(answer.find("polkit did not answer"), std::string::npos) << answer;
  EXPECT_GE(waited, 900ms);
  EXPECT_LT(waited, 15s);
}

TEST_F(WithPolkit, StopsCleanlyWhileACheckWaits) {
  MockPolkit polkit(address_, {"org.halod.load"});
  auto other = other_client();
  polkit.hold_if(from(*other));
  auto first = std::async(std::launch::async, [&] {
    return error_name_of([&] { ManagerProxy(*other).LoadModel(model_file(kLlama), {}); });
  });
  ASSERT_TRUE(eventually([&] { return polkit.parked() == 1; }, 10s));
  EXPECT_EQ(halod_.terminate(std::chrono::seconds(10)), 0) << halod_log();
  ASSERT_EQ(first.wait_for(20s), std::future_status::ready);
  EXPECT_NE(first.get(), "");  // an error, not a model
}

TEST_F(WithPolkit, RefusesWhenPolkitFails) {
  MockPolkit polkit(address_, {"org.halod.load"});
  polkit.fail_with_error();
  try {
    load(kLlama);
    FAIL() << "loaded although polkit failed";
  } catch (const sdbus::Error& e) {
    EXPECT_EQ(e.getName(), kAccessDenied);
    EXPECT_NE(e.getMessage().find("the mock was told to fail"), std::string::npos) << e.getMessage();
  }
  EXPECT_TRUE(manager_->ListModels().empty());
}

TEST_F(WithPolkit, RefusesWhenPolkitCannotBeReached) {
  try {
    load(kLlama);
    FAIL() << "loaded without an answer from polkit";
  } catch (const sdbus::Error& e) {
    EXPECT_EQ(e.getName(), kAccessDenied);
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

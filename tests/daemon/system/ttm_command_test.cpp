// `haloctl ttm check|recommend|apply` on fake machines, and the installed
// modprobe template against recommend().
#include "tools/haloctl/ttm/ttm_command.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/temp_dir.h"

namespace halo::haloctl {
namespace {

using ttm::kGiB;
using ttm::kPageSize;

class NoDrm final : public ttm::DrmProbe {
 public:
  std::optional<ttm::DrmGtt> gtt() override { return std::nullopt; }
};

// A fake 128 GiB machine with the kernel's default limits and no config file.
class TtmCommand : public ::testing::Test {
 protected:
  TtmCommand() {
    root_.write("proc/meminfo", "MemTotal: " + std::to_string(128 * kGiB / 1024) + " kB\n");
    const std::string half = std::to_string(64 * kGiB / kPageSize) + "\n";
    root_.write("sys/module/ttm/parameters/pages_limit", half);
    root_.write("sys/module/ttm/parameters/page_pool_size", half);
  }

  int run(std::vector<std::string> args, bool json = false) {
    args.insert(args.end(), {"--root", root_.path().string(), "--config", (etc_.path() / "halod.toml").string()});
    out_.str("");
    err_.str("");
    return run_ttm_command(args, json, out_, err_, std::make_unique<NoDrm>());
  }

  test::TempDir root_, etc_;
  std::ostringstream out_, err_;
};

TEST_F(TtmCommand, CheckPrintsTheStatusNumbersAndWarnings) {
  EXPECT_EQ(run({"check"}), kTtmExitOk) << err_.str();
  const std::string text = out_.str();
  EXPECT_NE(text.find("TTM status: warning"), std::string::npos) << text;
  EXPECT_NE(text.find("16777216 pages (64 GiB)"), std::string::npos) << text;
  EXPECT_NE(text.find("pool budget         56 GiB"), std::string::npos) << text;
  EXPECT_NE(text.find("kernel default of half of RAM"), std::string::npos) << text;
}

TEST_F(TtmCommand, CheckInJsonAndExitCodeForMisconfigured) {
  const std::string too_much = std::to_string(127 * kGiB / kPageSize) + "\n";
  root_.write("sys/module/ttm/parameters/pages_limit", too_much);
  root_.write("sys/module/ttm/parameters/page_pool_size", too_much);
  EXPECT_EQ(run({"check"}, true), kTtmExitMisconfigured);
  const auto j = nlohmann::json::parse(out_.str());
  EXPECT_EQ(j["status"], "misconfigured");
  EXPECT_EQ(j["pages_limit"], 127 * kGiB / kPageSize);
  EXPECT_TRUE(j["gtt_total"].is_null());
  EXPECT_EQ(j["reserve"], 8 * kGiB);
  EXPECT_EQ(j["warnings"].size(), 1u);
}

TEST_F(TtmCommand, CheckUsesTheReserveFromTheConfig) {
  etc_.write("halod.toml", "reserve = \"16GiB\"\n");
  ASSERT_EQ(run({"check"}, true), kTtmExitOk) << err_.str();
  EXPECT_EQ(nlohmann::json::parse(out_.str())["budget"], 48 * kGiB);  // 64 GiB - 16 GiB
}

TEST_F(TtmCommand, ReportsAConfigErrorWithItsLocation) {
  etc_.write("halod.toml", "reserve = \"lots\"\n");
  EXPECT_EQ(run({"check"}), kTtmExitFailed);
  EXPECT_NE(err_.str().find("halod.toml:1:11: reserve:"), std::string::npos) << err_.str();
}

TEST_F(TtmCommand, RecommendPrintsAConfForThisMachine) {
  EXPECT_EQ(run({"recommend"}), kTtmExitOk) << err_.str();
  EXPECT_EQ(out_.str(), ttm::recommend(128 * kGiB, 8 * kGiB).conf_text);
}

TEST_F(TtmCommand, RecommendTakesReserveAndRam) {
  EXPECT_EQ(run({"recommend", "--reserve", "6GiB", "--ram", "64GiB"}, true), kTtmExitOk) << err_.str();
  const auto j = nlohmann::json::parse(out_.str());
  EXPECT_EQ(j["pages_limit"], 58 * kGiB / kPageSize);
  EXPECT_EQ(j["gttsize_mib"], 58 * 1024);
  EXPECT_EQ(j["reserve"], 6 * kGiB);
}

TEST_F(TtmCommand, RejectsBadArgumentsWithUsageExitCode) {
  EXPECT_EQ(run({"recommend", "--reserve", "plenty"}), kTtmExitUsage);
  EXPECT_NE(err_.str().find("\"plenty\" is not a size"), std::string::npos) << err_.str();
  EXPECT_EQ(run({"recommend", "--reserve", "200GiB"}), kTtmExitUsage);
  EXPECT_NE(err_.str().find("choose a smaller reserve"), std::string::npos) << err_.str();
  EXPECT_EQ(run({"frobnicate"}), kTtmExitUsage);
  EXPECT_EQ(run_ttm_command({}, false, out_, err_, std::make_unique<NoDrm>()), kTtmExitUsage);
}

TEST_F(TtmCommand, HelpListsTheSubcommands) {
  EXPECT_EQ(run_ttm_command({"--help"}, false, out_, err_, std::make_unique<NoDrm>()), kTtmExitOk);
  for (const char* word : {"check", "recommend", "apply"}) EXPECT_NE(out_.str().find(word), std::string::npos) << word;
}

TEST_F(TtmCommand, ApplyWritesTheFileKeepsABackupAndSaysToReboot) {
  const auto conf = etc_.path() / "halod-ttm.conf";
  etc_.write("halod-ttm.conf", "# old\n");
  EXPECT_EQ(run({"apply", "--output", conf.string()}), kTtmExitOk) << err_.str();
  EXPECT_EQ(test::read_text(conf), ttm::recommend(128 * kGiB, 8 * kGiB).conf_text);
  EXPECT_NE(out_.str().find("Wrote " + conf.string()), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("previous file is saved as"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("reboot"), std::string::npos) << out_.str();
}

TEST_F(TtmCommand, ApplyFailsClearlyWhenItCannotWrite) {
  const auto conf = etc_.path() / "missing" / "halod-ttm.conf";
  EXPECT_EQ(run({"apply", "--output", conf.string()}), kTtmExitFailed);
  EXPECT_NE(err_.str().find(conf.string()), std::string::npos) << err_.str();
}

// The shipped template (modprobe/halod-ttm.conf) documents a 128 GiB machine;
// its options lines must be what recommend() computes for one.
TEST(ModprobeTemplate, MatchesTheRecommendationFor128GiB) {
  auto options_lines = [](const std::string& text) {
    std::istringstream in(text);
    std::string line, lines;
    while (std::getline(in, line)) {
      if (line.rfind("options ", 0) == 0) lines += line + "\n";
    }
    return lines;
  };
  const std::string template_text = test::read_text(HALOD_MODPROBE_TEMPLATE);
  ASSERT_FALSE(template_text.empty());
  const auto r = ttm::recommend(128 * kGiB, ttm::default_reserve(128 * kGiB));
  EXPECT_EQ(options_lines(template_text), options_lines(r.conf_text));
}

}  // namespace
}  // namespace halo::haloctl

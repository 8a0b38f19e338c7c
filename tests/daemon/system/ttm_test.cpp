// TTM check on fake sysfs trees, recommend() and apply().
#include "daemon/ttm/ttm.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/temp_dir.h"

namespace halo::ttm {
namespace {

constexpr uint64_t k128GiB = 128 * kGiB;
constexpr uint64_t k64GiB = 64 * kGiB;

class FakeDrm final : public DrmProbe {
 public:
  explicit FakeDrm(std::optional<DrmGtt> gtt) : gtt_(std::move(gtt)) {}
  std::optional<DrmGtt> gtt() override { return gtt_; }

 private:
  std::optional<DrmGtt> gtt_;
};

// A fake root with /proc/meminfo and whichever module parameters a test sets.
class FakeSystem {
 public:
  explicit FakeSystem(uint64_t ram) { set_ram(ram); }

  void set_ram(uint64_t ram) {
    dir_.write("proc/meminfo", "MemTotal:       " + std::to_string(ram / 1024) + " kB\nMemFree: 1 kB\n");
  }
  void set_ttm(const std::string& pages_limit, const std::string& page_pool_size) {
    dir_.write("sys/module/ttm/parameters/pages_limit", pages_limit + "\n");
    dir_.write("sys/module/ttm/parameters/page_pool_size", page_pool_size + "\n");
  }
  void set_ttm_pages(uint64_t pages_limit, uint64_t page_pool_size) {
    set_ttm(std::to_string(pages_limit), std::to_string(page_pool_size));
  }
  void set_gttsize(int64_t mib) { dir_.write("sys/module/amdgpu/parameters/gttsize", std::to_string(mib) + "\n"); }

  Report check(std::optional<DrmGtt> drm = std::nullopt, std::optional<uint64_t> reserve = std::nullopt) const {
    return Checker(dir_.path(), std::make_unique<FakeDrm>(std::move(drm))).check(reserve);
  }
  const std::filesystem::path& root() const { return dir_.path(); }

 private:
  test::TempDir dir_;
};

// Pages a well-configured 128 GiB machine has: (128 - 8 GiB default reserve) / 4 KiB.
constexpr uint64_t kGoodPages128 = (k128GiB - 8 * kGiB) / kPageSize;

std::string joined(const std::vector<std::string>& warnings) {
  std::string all;
  for (const auto& w : warnings) all += w + "\n";
  return all;
}

TEST(DefaultReserve, IsTheLargerOf4GiBAndASixteenthButAtMostHalf) {
  EXPECT_EQ(default_reserve(k128GiB), 8 * kGiB);
  EXPECT_EQ(default_reserve(k64GiB), 4 * kGiB);
  EXPECT_EQ(default_reserve(16 * kGiB), 4 * kGiB);
  EXPECT_EQ(default_reserve(4 * kGiB), 2 * kGiB);
}

TEST(TtmCheck, IsUnavailableWithoutTtmModuleParameters) {
  FakeSystem system(k64GiB);
  Report report = system.check();
  EXPECT_EQ(report.verdict, Verdict::Unavailable);
  EXPECT_EQ(to_string(report.verdict), "unavailable");
  EXPECT_FALSE(report.pages_limit);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings[0].find("No TTM module parameters"), std::string::npos);
}

TEST(TtmCheck, IsOkWhenLimitsLeaveTheReserveAndAgree) {
  FakeSystem system(k128GiB);
  system.set_ttm_pages(kGoodPages128, kGoodPages128);
  system.set_gttsize(-1);
  Report report = system.check(DrmGtt{"/dev/dri/renderD128", 120 * kGiB, 2 * kGiB});
  EXPECT_EQ(report.verdict, Verdict::Ok) << joined(report.warnings);
  EXPECT_TRUE(report.warnings.empty());
  EXPECT_EQ(report.mem_total, k128GiB);
  EXPECT_EQ(report.pages_limit, kGoodPages128);
  EXPECT_EQ(report.reserve, 8 * kGiB);
  EXPECT_EQ(report.ttm_limit, 120 * kGiB);
  EXPECT_EQ(report.budget, 112 * kGiB);  // min(120 GiB, 120 GiB) - 8 GiB
  ASSERT_TRUE(report.drm);
  EXPECT_EQ(report.drm->used, 2 * kGiB);
}

TEST(TtmCheck, WarnsThatTheKernelDefaultIsHalfOfRam) {
  FakeSystem system(k128GiB);
  const uint64_t half = k128GiB / 2 / kPageSize;
  system.set_ttm_pages(half, half);
  Report report = system.check();
  EXPECT_EQ(report.verdict, Verdict::Warning);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings[0].find("kernel default of half of RAM"), std::string::npos) << report.warnings[0];
  EXPECT_NE(report.warnings[0].find("64 GiB of 128 GiB"), std::string::npos) << report.warnings[0];
  EXPECT_NE(report.warnings[0].find("haloctl ttm recommend"), std::string::npos);
  EXPECT_EQ(report.budget, 56 * kGiB);
}

TEST(TtmCheck, TreatsPagesLimitZeroAsUnsetAndBudgetsHalfOfRam) {
  FakeSystem system(k64GiB);
  system.set_ttm_pages(0, 0);
  Report report = system.check();
  EXPECT_EQ(report.verdict, Verdict::Warning);
  EXPECT_EQ(report.ttm_limit, 32 * kGiB);
  EXPECT_EQ(report.budget, 28 * kGiB);  // 32 GiB - 4 GiB default reserve
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings[0].find("unset (0)"), std::string::npos) << report.warnings[0];
}

TEST(TtmCheck, CallsPagesLimitAboveRamMinusReserveMisconfigured) {
  FakeSystem system(k128GiB);
  const uint64_t pages = 126 * kGiB / kPageSize;
  system.set_ttm_pages(pages, pages);
  Report report = system.check();
  EXPECT_EQ(report.verdict, Verdict::Misconfigured);
  ASSERT_EQ(report.warnings.size(), 1u);
  const std::string& w = report.warnings[0];
  EXPECT_NE(w.find("33030144 pages (126 GiB)"), std::string::npos) << w;
  EXPECT_NE(w.find("reserve of 8 GiB"), std::string::npos) << w;
  EXPECT_NE(w.find("at most 31457280 pages (120 GiB)"), std::string::npos) << w;
}

TEST(TtmCheck, UsesTheConfiguredReserveForTheLimitAndBudget) {
  FakeSystem system(k128GiB);
  const uint64_t pages = 126 * kGiB / kPageSize;
  system.set_ttm_pages(pages, pages);
  Report report = system.check(std::nullopt, 2 * kGiB);
  EXPECT_EQ(report.verdict, Verdict::Ok) << joined(report.warnings);
  EXPECT_EQ(report.reserve, 2 * kGiB);
  EXPECT_EQ(report.budget, 124 * kGiB);
}

TEST(TtmCheck, WarnsWhenPagePoolIsSmallerThanPagesLimit) {
  FakeSystem system(k128GiB);
  system.set_ttm_pages(kGoodPages128, kGoodPages128 / 2);
  Report report = system.check();
  EXPECT_EQ(report.verdict, Verdict::Warning);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings[0].find("page_pool_size is 15728640 pages (60 GiB)"), std::string::npos)
      << report.warnings[0];
  EXPECT_NE(report.warnings[0].find("fragment"), std::string::npos);
  EXPECT_NE(report.warnings[0].find("page_pool_size=31457280"), std::string::npos);
}

TEST(TtmCheck, CallsGttsizeDisagreeingWithPagesLimitMisconfigured) {
  FakeSystem system(k128GiB);
  system.set_ttm_pages(kGoodPages128, kGoodPages128);
  system.set_gttsize(65536);
  Report report = system.check();
  EXPECT_EQ(report.verdict, Verdict::Misconfigured);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings[0].find("amdgpu.gttsize is 65536 MiB but the TTM limit is 122880 MiB"), std::string::npos)
      << report.warnings[0];
  EXPECT_NE(report.warnings[0].find("amdgpu.gttsize=122880"), std::string::npos);
}

TEST(TtmCheck, AcceptsGttsizeEqualToPagesLimit) {
  FakeSystem system(k128GiB);
  system.set_ttm_pages(kGoodPages128, kGoodPages128);
  system.set_gttsize(122880);
  EXPECT_EQ(system.check().verdict, Verdict::Ok);
}

TEST(TtmCheck, BudgetsTheDriversGttWhenItIsSmallerAndSaysSo) {
  FakeSystem system(k128GiB);
  system.set_ttm_pages(kGoodPages128, kGoodPages128);
  Report report = system.check(DrmGtt{"/dev/dri/renderD128", 96 * kGiB, 0});
  EXPECT_EQ(report.verdict, Verdict::Warning);
  EXPECT_EQ(report.budget, 88 * kGiB);  // 96 GiB - 8 GiB
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings[0].find("GTT of 96 GiB on /dev/dri/renderD128, less than the TTM limit of 120 GiB"),
            std::string::npos)
      << report.warnings[0];
}

TEST(TtmCheck, BudgetIsZeroNotNegativeWhenTheReserveExceedsTheLimit) {
  FakeSystem system(k64GiB);
  const uint64_t pages = 2 * kGiB / kPageSize;
  system.set_ttm_pages(pages, pages);
  Report report = system.check(std::nullopt, 4 * kGiB);
  EXPECT_EQ(report.budget, 0u);
  EXPECT_EQ(report.verdict, Verdict::Warning);
  EXPECT_NE(joined(report.warnings).find("The pool budget is 0"), std::string::npos) << joined(report.warnings);
}

TEST(TtmCheck, WarnsAboutParametersThatAreNotNumbers) {
  FakeSystem system(k128GiB);
  system.set_ttm("lots", std::to_string(kGoodPages128));
  Report report = system.check();
  EXPECT_FALSE(report.pages_limit);
  EXPECT_EQ(report.page_pool_size, kGoodPages128);
  EXPECT_NE(report.verdict, Verdict::Ok);
  EXPECT_NE(joined(report.warnings).find("holds \"lots\", not a number"), std::string::npos) << joined(report.warnings);
}

TEST(TtmCheck, SaturatesAbsurdValuesInsteadOfWrappingAround) {
  FakeSystem system(k128GiB);
  system.set_ttm("18446744073709551615", "18446744073709551615");  // ULONG_MAX pages
  Report report = system.check();
  EXPECT_EQ(report.ttm_limit, UINT64_MAX);
  EXPECT_EQ(report.verdict, Verdict::Misconfigured);
  EXPECT_EQ(report.budget, UINT64_MAX - 8 * kGiB);
}

TEST(TtmCheck, WarnsWhenMeminfoIsMissing) {
  test::TempDir root;
  root.write("sys/module/ttm/parameters/pages_limit", "1000\n");
  Report report = Checker(root.path(), std::make_unique<FakeDrm>(std::nullopt)).check();
  EXPECT_EQ(report.mem_total, 0u);
  EXPECT_NE(joined(report.warnings).find("Cannot read MemTotal"), std::string::npos);
}

TEST(LibdrmProbe, FindsNothingWithoutRenderNodes) {
  test::TempDir root;
  EXPECT_FALSE(make_libdrm_probe(root.path())->gtt());
}

TEST(LibdrmProbe, SkipsRenderNodesThatAreNotDrmDevices) {
  test::TempDir root;
  root.write("dev/dri/renderD128", "not a device");
  root.write("dev/dri/card0", "");
  EXPECT_FALSE(make_libdrm_probe(root.path())->gtt());
}

TEST(Recommend, GivesAllButTheReserveOnA128GiBMachine) {
  Recommendation r = recommend(k128GiB, 8 * kGiB);
  EXPECT_EQ(r.pages, 31457280u);
  EXPECT_EQ(r.gttsize_mib, 122880u);
  EXPECT_NE(r.conf_text.find("\noptions ttm pages_limit=31457280 page_pool_size=31457280\n"), std::string::npos)
      << r.conf_text;
  EXPECT_NE(r.conf_text.find("\noptions amdgpu gttsize=122880\n"), std::string::npos) << r.conf_text;
  EXPECT_NE(r.conf_text.find("128 GiB of RAM; 8 GiB kept"), std::string::npos) << r.conf_text;
}

TEST(Recommend, GivesAllButTheReserveOnA64GiBMachine) {
  Recommendation r = recommend(k64GiB, default_reserve(k64GiB));
  EXPECT_EQ(r.pages, 15728640u);  // 60 GiB
  EXPECT_EQ(r.gttsize_mib, 61440u);
  EXPECT_NE(r.conf_text.find("options ttm pages_limit=15728640 page_pool_size=15728640"), std::string::npos);
}

TEST(Recommend, RoundsDownToWholeMiBSoGttsizeMatchesPagesExactly) {
  const uint64_t ram = 131'598'340ull * 1024;  // a MemTotal as a 128 GiB board reports it
  Recommendation r = recommend(ram, 8 * kGiB);
  EXPECT_EQ(r.pages * kPageSize, r.gttsize_mib * kMiB);
  EXPECT_LE(r.pages * kPageSize, ram - 8 * kGiB);
  EXPECT_GT(r.pages * kPageSize + kMiB, ram - 8 * kGiB);
}

TEST(Recommend, EveryOptionsLineIsExplainedByAComment) {
  Recommendation r = recommend(k64GiB, 4 * kGiB);
  std::istringstream lines(r.conf_text);
  std::string line, previous;
  int options_lines = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("options ", 0) == 0) {
      ++options_lines;
      EXPECT_EQ(previous.rfind("# ", 0), 0u) << "no comment above: " << line;
    }
    previous = line;
  }
  EXPECT_EQ(options_lines, 2);
}

TEST(Recommend, RefusesAReserveThatLeavesTheGpuNothing) {
  EXPECT_THROW(recommend(8 * kGiB, 8 * kGiB), std::invalid_argument);
  EXPECT_THROW(recommend(8 * kGiB, 7 * kGiB + kGiB / 2), std::invalid_argument);
}

TEST(Recommend, ItsLimitsPassTheCheck) {
  Recommendation r = recommend(k128GiB, default_reserve(k128GiB));
  FakeSystem system(k128GiB);
  system.set_ttm_pages(r.pages, r.pages);
  system.set_gttsize(static_cast<int64_t>(r.gttsize_mib));
  Report report = system.check();
  EXPECT_EQ(report.verdict, Verdict::Ok) << joined(report.warnings);
}

TEST(Apply, WritesTheConfAndSaysARebootIsNeeded) {
  test::TempDir dir;
  const auto conf = dir.path() / "halod-ttm.conf";
  Recommendation r = recommend(k64GiB, 4 * kGiB);
  ApplyResult result = apply(r, {conf, false});
  EXPECT_EQ(result.written, conf);
  EXPECT_FALSE(result.backup);
  EXPECT_EQ(test::read_text(conf), r.conf_text);
  EXPECT_NE(result.next_steps.find("reboot"), std::string::npos);
  EXPECT_NE(result.next_steps.find("initramfs"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(conf.string() + ".tmp"));
}

TEST(Apply, BacksUpTheExistingFileWithATimestamp) {
  test::TempDir dir;
  const auto conf = dir.path() / "halod-ttm.conf";
  dir.write("halod-ttm.conf", "options ttm pages_limit=1\n");
  ApplyResult result = apply(recommend(k128GiB, 8 * kGiB), {conf, false});
  ASSERT_TRUE(result.backup);
  EXPECT_EQ(test::read_text(*result.backup), "options ttm pages_limit=1\n");
  const std::string name = result.backup->filename().string();
  // halod-ttm.conf.YYYYmmdd-HHMMSS.bak: not read by modprobe, which wants *.conf.
  EXPECT_EQ(name.size(), std::string("halod-ttm.conf.20261125-234000.bak").size()) << name;
  EXPECT_EQ(name.rfind("halod-ttm.conf.", 0), 0u);
  EXPECT_EQ(name.substr(name.size() - 4), ".bak");
  EXPECT_NE(test::read_text(conf).find("pages_limit=31457280"), std::string::npos);
}

TEST(Apply, FailsWithThePathWhenTheFolderIsMissing) {
  test::TempDir dir;
  const auto conf = dir.path() / "no-such-dir" / "halod-ttm.conf";
  try {
    apply(recommend(k64GiB, 4 * kGiB), {conf, false});
    FAIL() << "apply() wrote into a missing folder";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(conf.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
}

TEST(FormatBytes, UsesTheLargestWholeUnit) {
  EXPECT_EQ(format_bytes(4096), "4 KiB");
  EXPECT_EQ(format_bytes(120 * kGiB), "120 GiB");
  EXPECT_EQ(format_bytes(kGiB + kGiB / 2), "1.5 GiB");
  EXPECT_EQ(format_bytes(1000), "1000 B");
}

}  // namespace
}  // namespace halo::ttm

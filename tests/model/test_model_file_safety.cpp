// A model owns every byte it keeps: the file it was loaded from may be cut
// short, rewritten or replaced before, during and after the load, and the
// result is halo::Error(BadModel) or a model that keeps working, never a
// signal. What a load allocates is known from the header beforehand.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/error.h"
#include "engine/gguf/file_reader.h"
#include "engine/model/model.h"
#include "engine/pool/pool.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/fixtures.h"
#include "tests/temp_dir.h"

namespace halo {
namespace {

std::string fixture_model(const std::string& name) { return test::fixture("models/" + name + ".gguf"); }

// A writable copy of a fixture (the fixtures are read-only).
std::string copy_of(const test::TempDir& dir, const std::string& name) {
  const std::string path = dir.file(name + ".gguf");
  std::filesystem::copy_file(fixture_model(name), path);
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  return path;
}

uint64_t file_size(const std::string& path) { return std::filesystem::file_size(path); }

std::vector<float> logits_of(const Model& m) {
  auto backend = create_backend("cpu");
  std::vector<float> out;
  backend->attach(m, {32, 2})->eval(std::vector<int32_t>{1, 450, 4996, 17354}, 0, true, out);
  return out;
}

void expect_bad_model(const std::function<void()>& load, const std::string& file) {
  try {
    load();
    ADD_FAILURE() << "loaded a file cut short";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::BadModel) << e.what();
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("offset"), std::string::npos) << e.what();
  }
}

TEST(ModelFileSafety, AFileCutShortBeforeTheLoadIsBadModelAtEveryPoint) {
  test::TempDir dir;
  const std::string path = copy_of(dir, "qwen2-spm-q4_0");
  const uint64_t size = file_size(path);
  for (uint64_t cut : {uint64_t{3}, uint64_t{100}, size / 50, size / 2, size - 1}) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    std::filesystem::copy_file(fixture_model("qwen2-spm-q4_0"), path, std::filesystem::copy_options::overwrite_existing);
    ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(cut)), 0);
    expect_bad_model([&] { Model::load(path); }, path);
  }
}

// The progress callback runs between reads of the tensor data: cutting the
// file there is a client truncating it while halod copies the weights.
TEST(ModelFileSafety, AFileCutShortDuringTheWeightCopyIsBadModel) {
  test::TempDir dir;
  const std::string path = copy_of(dir, "llama3-bpe-q4_k_m");
  ASSERT_GT(file_size(path), gguf::FileReader::kChunkBytes) << "the file must take more than one read";
  auto pool = make_host_pool(uint64_t{1} << 30);
  for (bool with_pool : {false, true}) {
    SCOPED_TRACE(with_pool ? "into a pool" : "into the model's own memory");
    std::filesystem::copy_file(fixture_model("llama3-bpe-q4_k_m"), path, std::filesystem::copy_options::overwrite_existing);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    int cuts = 0;
    LoadOptions opts;
    opts.pool = with_pool ? pool.get() : nullptr;
    opts.progress = [&](double f) {
      if (f < 1.0 && cuts++ == 0) ASSERT_EQ(::truncate(path.c_str(), 4096), 0);
    };
    expect_bad_model([&] { Model::load_fd(fd, path, opts); }, path);
    ::close(fd);
    EXPECT_EQ(cuts, 1) << "the copy was not interrupted between reads";
    EXPECT_EQ(pool->used(), 0u) << "a failed load gives its memory back";
  }
}

TEST(ModelFileSafety, AFileReplacedDuringTheLoadLeavesTheOpenedOneLoaded) {
  test::TempDir dir;
  const std::string path = copy_of(dir, "llama3-bpe-q4_k_m");
  const std::string other = copy_of(dir, "qwen2-spm-q4_0");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  bool replaced = false;
  LoadOptions opts;
  opts.progress = [&](double f) {
    if (f < 1.0 && !replaced) replaced = std::rename(other.c_str(), path.c_str()) == 0;
  };
  auto m = Model::load_fd(fd, "llama3.gguf", opts);
  ::close(fd);
  EXPECT_TRUE(replaced);
  EXPECT_EQ(m->tokenizer().n_vocab(), 128256u) << "still the file that was opened";
  EXPECT_EQ(logits_of(*m), logits_of(*Model::load(fixture_model("llama3-bpe-q4_k_m"))));
}

TEST(ModelFileSafety, AModelKeepsWorkingAfterItsFileIsCutShortOrRewritten) {
  test::TempDir dir;
  const std::string path = copy_of(dir, "qwen2-spm-q4_0");
  auto pool = make_host_pool(uint64_t{1} << 30);
  LoadOptions opts;
  opts.pool = pool.get();
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto m = Model::load_fd(fd, path, opts);
  const std::vector<float> before = logits_of(*m);
  // Rewritten with other bytes, then cut to nothing, through the same file.
  const std::vector<uint8_t> junk(1 << 20, 0xA5);
  ASSERT_EQ(::pwrite(fd, junk.data(), junk.size(), 0), static_cast<ssize_t>(junk.size()));
  ASSERT_EQ(::ftruncate(fd, 0), 0);
  ::close(fd);
  EXPECT_EQ(m->name(), "tiny-qwen2-seed3");
  EXPECT_EQ(m->gguf().get_string("general.architecture"), "qwen2");
  EXPECT_FALSE(m->tokenizer().encode("hello world", true, false).empty());
  EXPECT_EQ(logits_of(*m), before);
}

// Bytes malloc has handed out and not taken back.
uint64_t heap_in_use() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

TEST(ModelFileSafety, TheEstimateFromTheHeaderBoundsWhatTheLoadAllocates) {
  for (const char* name : {"llama3-bpe-q4_k_m", "qwen3-spm-q8_0"}) {
    SCOPED_TRACE(name);
    const int fd = ::open(fixture_model(name).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    const LoadEstimate e = Model::estimate_fd(fd, name);
    auto pool = make_host_pool(uint64_t{1} << 30);
    LoadOptions opts;
    opts.pool = pool.get();
    const uint64_t before = heap_in_use();
    auto m = Model::load_fd(fd, name, opts);
    const uint64_t host = heap_in_use() - before;
    ::close(fd);
    EXPECT_GE(e.host_bytes, host);
    EXPECT_GE(e.host_bytes, m->host_bytes());
    EXPECT_GE(m->host_bytes(), host / 2) << "the model reports what it holds";
    EXPECT_GE(e.weight_bytes, pool->used());
    EXPECT_GE(pool->used(), m->weight_bytes());
    EXPECT_LT(e.weight_bytes, m->weight_bytes() + (uint64_t{8} << 20));
  }
}

TEST(ModelFileSafety, ATensorLargerThanTheLargestAllocationIsNoMemory) {
  // A pool that allows at most 1 MiB per allocation, as a device would.
  class SmallBlocks final : public Pool {
   public:
    SmallBlocks() : Pool(uint64_t{1} << 30), host_(make_host_pool(uint64_t{1} << 30)) {}
    std::string kind() const override { return "small"; }
    std::unique_ptr<PoolAllocation> allocate(uint64_t bytes, const std::string& what, uint64_t align) override {
      return host_->allocate(bytes, what, align);
    }
    void write(PoolAllocation& a, uint64_t offset, const void* src, uint64_t bytes) override {
      host_->write(a, offset, src, bytes);
    }
    uint64_t max_allocation() const override { return 1 << 20; }

   protected:
    void release(PoolAllocation&) override {}

   private:
    std::unique_ptr<Pool> host_;
  } pool;
  LoadOptions opts;
  opts.pool = &pool;
  try {
    Model::load(fixture_model("qwen2-spm-q4_0"), opts);  // its output matrix is 6.4 MiB
    FAIL() << "loaded a tensor larger than the largest allocation";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::NoMemory) << e.what();
    EXPECT_NE(std::string(e.what()).find("tensor output.weight (6720000 bytes) is larger than the largest allocation"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace halo

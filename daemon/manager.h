// The model registry and residency manager: loads models into the pool
// (evicting idle, unpinned models in least-recently-used order when the
// budget is short), keeps them for their keep_alive, attaches them to
// backends and feeds their request queues. Everything here runs on the event
// loop's thread except model loading and generation, which run on worker
// threads and report back through EventLoop::post().
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daemon/options.h"
#include "daemon/request_queue.h"
#include "engine/backend/backend.h"
#include "engine/model/model.h"
#include "engine/pool/pool.h"

namespace halod {

class EventLoop;

// What the manager needs from the configuration.
struct ManagerSettings {
  std::vector<std::string> model_dirs;  // LoadModel by path only opens files under these
  std::string default_backend = "auto";
  uint64_t pool_budget = 0;             // bytes the resident models may use
  int32_t keep_alive = 300;             // seconds; -1 forever, 0 unload after each request
  uint32_t context_length = 0;          // default KV length; 0: the backend's default
  uint32_t queue_limit = 8;             // waiting requests per model
  uint64_t max_prompt_bytes = 1 << 20;  // longer prompts are refused before tokenizing
  GenerateLimits generate;
  uint32_t n_threads = 0;               // CPU threads per generation; 0: all cores
};

enum class ModelState { Loading, Ready, Busy, Swapping };
std::string_view model_state_name(ModelState s);

struct ResidentModel {
  uint64_t id = 0;
  std::string name, path;
  std::string architecture, quantization;
  uint64_t n_params = 0;
  uint64_t size_bytes = 0;       // weights + runner memory (KV cache, scratch): what counts against the budget
  uint64_t reserved_bytes = 0;   // while loading: the estimate held against the budget instead
  uint64_t kv_estimate = 0;      // the KV cache reserved before attaching (checked against the runner's report)
  std::string backend_name;
  uint32_t n_ctx = 0;
  int32_t keep_alive = 0;
  bool pinned = false;
  uint64_t last_used_us = 0;     // wall clock, microseconds since the epoch
  double load_progress = 0;
  ModelState state = ModelState::Loading;
  size_t active_requests = 0;    // queued + running
  uint64_t keep_alive_timer = 0;

  // Engine objects: written by the loader thread before it reports back, then
  // used by the worker (generation) and the loop (switch) under run_mu.
  std::unique_ptr<halo::Model> model;
  halo::Backend* backend = nullptr;  // owned by the Manager
  std::unique_ptr<halo::Runner> runner;
  halo::KvHistory kv_history;  // what the runner's KV cache holds: the prompt cache
  std::mutex run_mu;
  std::unique_ptr<RequestQueue> queue;
  std::thread loader;
};

// How the bus layer hears about changes (all called on the loop thread).
class ManagerEvents {
 public:
  virtual ~ManagerEvents() = default;
  virtual void model_added(ResidentModel& m) = 0;
  virtual void model_changed(ResidentModel& m, const std::vector<std::string>& properties) = 0;
  virtual void model_removed(ResidentModel& m) = 0;  // just before it is destroyed
  virtual void pool_changed() = 0;
  virtual void request_started(const RequestPtr& r) = 0;
  virtual void request_finished(const RequestPtr& r) = 0;
};

// Resolves path (symlinks included) and checks that it lies under one of
// dirs. Throws sdbus::Error: NotFound when it does not exist, AccessDenied
// (pointing to LoadModelFd) when it is outside.
std::string resolve_model_path(const std::string& path, const std::vector<std::string>& dirs);

class Manager {
 public:
  using LoadDone = std::function<void(ResidentModel* model, std::exception_ptr error)>;

  Manager(ManagerSettings settings, EventLoop& loop);
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  void set_events(ManagerEvents* events) { events_ = events; }
  const ManagerSettings& settings() const { return settings_; }

  // Starts loading from fd (taken over). Throws sdbus::Error for problems
  // found at once (bad backend, no room); done is called later otherwise.
  void load(int fd, const std::string& path, const LoadModelOptions& options, LoadDone done);
  // Cancels the model's requests and frees it. Throws Busy while it loads.
  void unload(uint64_t id, const std::string& why);
  // Attaches the model to another backend; returns the microseconds taken.
  uint64_t switch_backend(uint64_t id, const std::string& backend);
  // Queues a request (Busy when the queue is full).
  void submit(ResidentModel& m, RequestPtr request);
  void cancel_requests_of(const std::string& sender);
  // Cancels all requests and unloads every model (SIGTERM).
  void shutdown();

  ResidentModel* find(uint64_t id);
  std::vector<ResidentModel*> models();
  uint64_t pool_budget() const { return host_pool_->budget(); }
  // What counts against the budget: every loaded model's size_bytes and
  // what each load in progress has reserved.
  uint64_t pool_used() const;
  std::vector<halo::BackendInfo> backends() const { return backends_info_; }
  std::string default_backend() const;

 private:
  // What a runner will need, known from the model's header before loading.
  struct RunnerEstimate {
    uint32_t n_ctx = 0;
    uint64_t kv_bytes = 0;
  };
  static uint64_t footprint(const ResidentModel& m);
  halo::Backend& backend_named(const std::string& name);
  // Evicts idle, unpinned models (least recently used first) until needed
  // bytes of the budget are free. Throws NoMemory: need ("The model needs
  // N MiB ...") then what is free, then advice, then the usual remedy.
  void make_room(uint64_t needed, const std::string& need, const std::string& advice);
  void make_room_to_grow(ResidentModel& m, uint64_t total, const std::string& backend, const std::string& what);
  // Loading, in steps: load() reserves the file's size (the weights) at
  // once; probe_on_worker() reads the header; admit() reserves the KV cache
  // too (evicting if need be); load_on_worker() loads and attaches;
  // load_finished() checks the real footprint (check_footprint()).
  void probe_on_worker(ResidentModel& m, int fd, uint32_t n_ctx, LoadDone done);
  void admit(uint64_t id, int fd, RunnerEstimate estimate, std::exception_ptr error, LoadDone done);
  void load_on_worker(ResidentModel& m, int fd, uint32_t n_ctx, LoadDone done);
  void load_finished(uint64_t id, std::exception_ptr error, LoadDone done);
  void check_footprint(ResidentModel& m);
  void load_failed(ResidentModel& m, std::exception_ptr error, const LoadDone& done);
  void request_finished(uint64_t model_id, const RequestPtr& r);
  void touch(ResidentModel& m);
  void schedule_keep_alive(ResidentModel& m);
  void changed(ResidentModel& m, std::vector<std::string> properties);

  ManagerSettings settings_;
  EventLoop& loop_;
  ManagerEvents* events_ = nullptr;
  std::unique_ptr<halo::Pool> host_pool_;
  std::vector<halo::BackendInfo> backends_info_;
  std::map<std::string, std::unique_ptr<halo::Backend>> backends_;
  std::mutex attach_mu_;  // backends are attached from loader threads
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::unique_ptr<ResidentModel>> models_;
};

}  // namespace halod

#include "daemon/manager.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <filesystem>

#include "daemon/errors.h"
#include "daemon/event_loop.h"
#include "daemon/log.h"
#include "engine/backend/runner_memory.h"
#include "engine/error.h"

namespace halod {
namespace {

std::string mib(uint64_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB"; }

uint64_t now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

// Closes a descriptor on every path out of a scope unless released.
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) close(fd);
  }
  int release() { return std::exchange(fd, -1); }
};

}  // namespace

std::string_view model_state_name(ModelState s) {
  switch (s) {
    case ModelState::Loading: return "loading";
    case ModelState::Ready: return "ready";
    case ModelState::Busy: return "busy";
    case ModelState::Swapping: return "swapping";
  }
  return "ready";
}

std::string resolve_model_path(const std::string& path, const std::vector<std::string>& dirs) {
  if (path.empty() || path[0] != '/')
    errors::fail(errors::kInvalidArgument, "The model path must be absolute; got '" + path + "'");
  char resolved[PATH_MAX];
  if (!realpath(path.c_str(), resolved))
    errors::fail(errors::kNotFound, "Cannot open model file '" + path + "': " + std::strerror(errno));
  std::string real = resolved;
  for (const auto& dir : dirs) {
    char dir_real[PATH_MAX];
    if (!realpath(dir.c_str(), dir_real)) continue;  // a configured directory that does not exist
    std::string prefix = std::string(dir_real) + (std::string(dir_real) == "/" ? "" : "/");
    if (real.compare(0, prefix.size(), prefix) == 0) return real;
  }
  errors::fail(errors::kAccessDenied,
               "'" + real + "' is outside the configured model directories; open the file yourself and "
               "pass it with LoadModelFd (haloctl load does this)");
}

Manager::Manager(ManagerSettings settings, EventLoop& loop)
    : settings_(std::move(settings)), loop_(loop),
      host_pool_(halo::make_host_pool(settings_.pool_budget)),
      backends_info_(halo::list_backends()) {}

Manager::~Manager() { shutdown(); }

std::string Manager::default_backend() const {
  if (settings_.default_backend != "auto") return settings_.default_backend;
  return backends_info_.empty() ? "cpu" : backends_info_.front().name;
}

halo::Backend& Manager::backend_named(const std::string& requested) {
  const std::string name = requested.empty() || requested == "auto" ? default_backend() : requested;
  if (auto it = backends_.find(name); it != backends_.end()) return *it->second;
  try {
    auto backend = halo::create_backend(name);
    auto& ref = *backend;
    backends_[name] = std::move(backend);
    log_info("Backend " + name + " ready on " + ref.device_name(), {.backend = name});
    return ref;
  } catch (const halo::Error& e) {
    std::string available;
    for (auto& b : backends_info_) available += (available.empty() ? "" : ", ") + b.name;
    errors::fail(errors::kInvalidArgument, "Backend '" + name + "' is not available: " + e.what() +
                                               " (available: " + available + ")");
  }
}

uint64_t Manager::footprint(const ResidentModel& m) {
  return m.state == ModelState::Loading ? m.reserved_bytes : m.size_bytes;
}

uint64_t Manager::pool_used() const {
  uint64_t used = 0;
  for (auto& [id, m] : models_) used += footprint(*m);
  return used;
}

ResidentModel* Manager::find(uint64_t id) {
  auto it = models_.find(id);
  return it == models_.end() ? nullptr : it->second.get();
}

std::vector<ResidentModel*> Manager::models() {
  std::vector<ResidentModel*> out;
  for (auto& [id, m] : models_) out.push_back(m.get());
  return out;
}

void Manager::changed(ResidentModel& m, std::vector<std::string> properties) {
  if (events_) events_->model_changed(m, properties);
}

void Manager::make_room(uint64_t needed, const std::string& need, const std::string& advice) {
  const uint64_t budget = host_pool_->budget();
  if (needed > budget)
    errors::fail(errors::kNoMemory, need + " but the whole pool budget is " + mib(budget) + "; " + advice +
                                        "raise the TTM pages_limit or lower the reserve");
  auto free_now = [&] {
    uint64_t used = pool_used();
    return budget > used ? budget - used : 0;
  };
  while (free_now() < needed) {
    ResidentModel* victim = nullptr;
    for (auto& [id, m] : models_)
      if (m->state == ModelState::Ready && m->active_requests == 0 && !m->pinned &&
          (!victim || m->last_used_us < victim->last_used_us))
        victim = m.get();
    if (!victim)
      errors::fail(errors::kNoMemory, need + " but only " + mib(free_now()) + " of the " + mib(budget) +
                                          " pool are free, and every other model is pinned, busy or loading; " +
                                          advice + "unload one or raise the budget");
    unload(victim->id, "evicted to make room");
  }
}

void Manager::load(int fd, const std::string& path, const LoadModelOptions& options, LoadDone done) {
  FdGuard guard{fd};
  halo::Backend& backend = backend_named(options.backend);
  struct stat st{};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    errors::fail(errors::kInvalidArgument, "'" + path + "' is not a regular file");
  // The file's size bounds the weights it can hold. The KV cache is added
  // once the header says how large it is (admit()).
  const uint64_t weights = static_cast<uint64_t>(st.st_size);
  make_room(weights, "The model needs " + mib(weights) + " for its weights", "");

  auto owned = std::make_unique<ResidentModel>();
  ResidentModel& m = *owned;
  m.id = next_id_++;
  m.path = path;
  m.name = std::filesystem::path(path).filename().string();
  m.backend = &backend;
  m.backend_name = backend.name();
  m.keep_alive = options.keep_alive.value_or(settings_.keep_alive);
  m.pinned = options.pinned;
  m.reserved_bytes = weights;
  m.last_used_us = now_us();
  models_[m.id] = std::move(owned);
  if (events_) events_->model_added(m);
  if (events_) events_->pool_changed();  // the reservation counts as used
  log_info("Loading " + path + " (" + mib(weights) + ")", {.model = m.name, .backend = m.backend_name});
  uint32_t n_ctx = options.context_length ? options.context_length : settings_.context_length;
  probe_on_worker(m, guard.release(), n_ctx, std::move(done));
}

void Manager::probe_on_worker(ResidentModel& m, int fd, uint32_t n_ctx, LoadDone done) {
  const uint64_t id = m.id;
  m.loader = std::thread([this, id, fd, n_ctx, path = m.path, backend = m.backend_name,
                          done = std::move(done)]() mutable {
    RunnerEstimate estimate;
    std::exception_ptr error;
    try {
      // The header alone: a malformed file fails here, before any weight is read.
      const halo::HParams hp = halo::read_hparams_fd(fd, path);
      estimate.n_ctx = n_ctx ? n_ctx : halo::default_context_length(hp);
      estimate.kv_bytes = halo::kv_cache_bytes(hp, estimate.n_ctx, halo::kv_element_bytes(backend));
    } catch (...) {
      error = std::current_exception();
    }
    loop_.post([this, id, fd, estimate, error, done = std::move(done)] { admit(id, fd, estimate, error, done); });
  });
}

void Manager::admit(uint64_t id, int fd, RunnerEstimate estimate, std::exception_ptr error, LoadDone done) {
  FdGuard guard{fd};
  ResidentModel* m = find(id);
  if (!m) return;  // shut down meanwhile
  if (m->loader.joinable()) m->loader.join();
  if (!error) {
    // Weights and KV cache together, as one reservation.
    const uint64_t weights = m->reserved_bytes, needed = weights + estimate.kv_bytes;
    m->reserved_bytes = 0;
    try {
      make_room(needed,
                "The model needs " + mib(needed) + " (" + mib(weights) + " of weights and " +
                    mib(estimate.kv_bytes) + " of KV cache for " + std::to_string(estimate.n_ctx) + " tokens)",
                "load it with a smaller context_length, or ");
      m->reserved_bytes = needed;
    } catch (...) {
      error = std::current_exception();
    }
  }
  if (error) return load_failed(*m, error, done);
  m->kv_estimate = estimate.kv_bytes;
  if (events_) events_->pool_changed();
  load_on_worker(*m, guard.release(), estimate.n_ctx, std::move(done));
}

void Manager::load_failed(ResidentModel& m, std::exception_ptr error, const LoadDone& done) {
  const uint64_t id = m.id;
  if (events_) events_->model_removed(m);
  models_.erase(id);
  if (events_) events_->pool_changed();
  done(nullptr, error);
}

void Manager::load_on_worker(ResidentModel& m, int fd, uint32_t n_ctx, LoadDone done) {
  const uint64_t id = m.id;
  m.loader = std::thread([this, &m, id, fd, n_ctx, done = std::move(done)]() mutable {
    std::exception_ptr error;
    try {
      halo::LoadOptions lo;
      lo.pool = m.backend->pool() ? m.backend->pool() : host_pool_.get();
      // Progress reaches the bus in steps of 2% (each step is a signal).
      lo.progress = [this, id, last = -1.0](double f) mutable {
        if (f < 1.0 && f - last < 0.02) return;
        last = f;
        loop_.post([this, id, f] {
          if (ResidentModel* r = find(id); r && r->state == ModelState::Loading) {
            r->load_progress = f;
            changed(*r, {"LoadProgress"});
          }
        });
      };
      auto model = halo::Model::load_fd(fd, m.path, lo);
      halo::RunnerOptions ro;
      ro.n_ctx = n_ctx;
      ro.n_threads = settings_.n_threads;
      std::unique_ptr<halo::Runner> runner;
      {
        std::lock_guard lock(attach_mu_);
        runner = m.backend->attach(*model, ro);
      }
      m.model = std::move(model);
      m.runner = std::move(runner);
    } catch (...) {
      error = std::current_exception();
    }
    close(fd);
    loop_.post([this, id, error, done = std::move(done)] { load_finished(id, error, done); });
  });
}

void Manager::check_footprint(ResidentModel& m) {
  // Scratch was not in the estimate, and a runner may allocate more than
  // its KV cache says: the real footprint must fit too (m reserves nothing
  // now, so make_room counts it whole).
  const uint64_t weights = m.model->weight_bytes(), runner = m.runner->memory_bytes();
  if (runner < m.kv_estimate)
    log_warning("The runner reports " + mib(runner) + " but its KV cache alone was estimated at " +
                    mib(m.kv_estimate) + "; the estimate (engine/backend/runner_memory.h) is off",
                {.model = m.name, .backend = m.backend_name});
  make_room(weights + runner,
            "The model needs " + mib(weights + runner) + " once attached (" + mib(weights) + " of weights and " +
                mib(runner) + " of KV cache and scratch)",
            "load it with a smaller context_length, or ");
  m.size_bytes = weights + runner;
}

void Manager::load_finished(uint64_t id, std::exception_ptr error, LoadDone done) {
  ResidentModel* m = find(id);
  if (!m) return;  // shut down meanwhile
  if (m->loader.joinable()) m->loader.join();
  m->reserved_bytes = 0;
  if (!error) {
    try {
      check_footprint(*m);
    } catch (...) {
      error = std::current_exception();
    }
  }
  if (error) return load_failed(*m, error, done);
  m->name = m->model->name();
  m->architecture = m->model->hparams().arch_name;
  m->quantization = m->model->quantization();
  m->n_params = m->model->n_params();
  m->n_ctx = m->runner->n_ctx();
  m->load_progress = 1.0;
  m->state = ModelState::Ready;
  m->queue = std::make_unique<RequestQueue>(
      settings_.queue_limit,
      [m](Request& r) {
        std::lock_guard lock(m->run_mu);
        run_generation(*m->model, *m->runner, m->kv_history, r);
      },
      [this](RequestPtr r) { loop_.post([this, r] { if (events_) events_->request_started(r); }); },
      [this, id](RequestPtr r) { loop_.post([this, id, r] { request_finished(id, r); }); });
  touch(*m);
  schedule_keep_alive(*m);
  log_info("Loaded " + m->name + ": " + m->architecture + " " + m->quantization + ", " + mib(m->size_bytes) +
               " (weights " + mib(m->model->weight_bytes()) + ", KV cache and scratch " +
               mib(m->runner->memory_bytes()) + "), context " + std::to_string(m->n_ctx),
           {.model = m->name, .backend = m->backend_name});
  changed(*m, {"Name", "Architecture", "Quantization", "Parameters", "SizeBytes", "ContextLength", "State",
               "LoadProgress", "LastUsed"});
  if (events_) events_->pool_changed();
  done(m, nullptr);
}

void Manager::unload(uint64_t id, const std::string& why) {
  ResidentModel* m = find(id);
  if (!m) errors::fail(errors::kNotFound, "No model with id " + std::to_string(id));
  if (m->state == ModelState::Loading)
    errors::fail(errors::kBusy, "'" + m->name + "' is still loading; unload it when its State is ready");
  if (m->queue) m->queue->stop();  // cancels its requests; their replies are posted
  if (m->keep_alive_timer) loop_.cancel_timer(m->keep_alive_timer);
  log_info("Unloading " + m->name + ": " + why, {.model = m->name, .backend = m->backend_name});
  if (events_) events_->model_removed(*m);
  models_.erase(id);
  if (events_) events_->pool_changed();
}

uint64_t Manager::switch_backend(uint64_t id, const std::string& name) {
  ResidentModel* m = find(id);
  if (!m) errors::fail(errors::kNotFound, "No model with id " + std::to_string(id));
  if (m->state == ModelState::Loading)
    errors::fail(errors::kBusy, "'" + m->name + "' is still loading");
  if (name == "auto") errors::fail(errors::kInvalidArgument, "Name the backend to switch to: cpu, vulkan or rocm");
  halo::Backend& target = backend_named(name);
  if (&target == m->backend) return 0;
  std::unique_lock lock(m->run_mu, std::try_to_lock);
  if (!lock.owns_lock())
    errors::fail(errors::kBusy, "'" + m->name + "' is generating; switch when its State is ready");
  const ModelState before = m->state;
  m->state = ModelState::Swapping;  // also keeps make_room from evicting it
  changed(*m, {"State"});
  auto t0 = std::chrono::steady_clock::now();
  const uint64_t weights = m->model->weight_bytes();
  try {
    // Room for the new runner's KV cache before attaching, for all of it after.
    const uint64_t kv = halo::kv_cache_bytes(m->model->hparams(), m->n_ctx, halo::kv_element_bytes(target.name()));
    make_room_to_grow(*m, weights + kv, target.name(), "KV cache");
    halo::RunnerOptions ro;
    ro.n_ctx = m->n_ctx;
    ro.n_threads = settings_.n_threads;
    auto runner = target.attach(*m->model, ro);
    make_room_to_grow(*m, weights + runner->memory_bytes(), target.name(), "KV cache and scratch");
    m->runner = std::move(runner);
    m->kv_history.tokens.clear();  // a new, empty KV cache
  } catch (...) {
    m->state = before;  // still on the old runner
    changed(*m, {"State"});
    throw;
  }
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  m->backend = &target;
  m->backend_name = target.name();
  m->size_bytes = weights + m->runner->memory_bytes();
  m->state = before;
  log_info("Switched " + m->name + " to " + m->backend_name + " in " + std::to_string(us.count()) + " us",
           {.model = m->name, .backend = m->backend_name});
  changed(*m, {"Backend", "State", "SizeBytes"});
  if (events_) events_->pool_changed();
  return static_cast<uint64_t>(us.count());
}

void Manager::make_room_to_grow(ResidentModel& m, uint64_t total, const std::string& backend,
                                const std::string& what) {
  if (total <= m.size_bytes) return;
  make_room(total - m.size_bytes,
            "Switching '" + m.name + "' to " + backend + " needs " + mib(total - m.size_bytes) + " more (" +
                mib(total) + " of weights and " + what + ")",
            "");
}

void Manager::submit(ResidentModel& m, RequestPtr request) {
  if (m.state == ModelState::Loading || !m.queue)
    errors::fail(errors::kBusy, "'" + m.name + "' is still loading; try again when its State is ready");
  request->model_id = m.id;
  m.queue->push(std::move(request));
  ++m.active_requests;
  if (m.keep_alive_timer) {
    loop_.cancel_timer(m.keep_alive_timer);
    m.keep_alive_timer = 0;
  }
  if (m.state != ModelState::Busy) {
    m.state = ModelState::Busy;
    changed(m, {"State"});
  }
}

void Manager::request_finished(uint64_t model_id, const RequestPtr& r) {
  if (events_) events_->request_finished(r);
  ResidentModel* m = find(model_id);
  if (!m) return;
  if (m->active_requests > 0) --m->active_requests;
  touch(*m);
  if (m->active_requests > 0) return;
  m->state = ModelState::Ready;
  changed(*m, {"State", "LastUsed"});
  if (m->keep_alive == 0)
    unload(m->id, "keep_alive is 0");
  else
    schedule_keep_alive(*m);
}

void Manager::cancel_requests_of(const std::string& sender) {
  for (auto& [id, m] : models_)
    if (m->queue) m->queue->cancel_sender(sender);
}

void Manager::touch(ResidentModel& m) { m.last_used_us = now_us(); }

void Manager::schedule_keep_alive(ResidentModel& m) {
  if (m.keep_alive_timer) loop_.cancel_timer(m.keep_alive_timer);
  m.keep_alive_timer = 0;
  if (m.keep_alive <= 0) return;  // -1: forever; 0: unloaded after a request instead
  const uint64_t id = m.id;
  m.keep_alive_timer = loop_.add_timer(EventLoop::Clock::now() + std::chrono::seconds(m.keep_alive), [this, id] {
    ResidentModel* r = find(id);
    if (!r) return;
    r->keep_alive_timer = 0;
    if (r->active_requests == 0 && r->state == ModelState::Ready) unload(id, "keep_alive expired");
  });
}

void Manager::shutdown() {
  for (auto& [id, m] : models_) {
    if (m->queue) m->queue->cancel_sender("");
  }
  for (auto& [id, m] : models_) {
    if (m->loader.joinable()) m->loader.join();  // a load cannot be interrupted
    if (m->queue) m->queue->stop();
  }
  models_.clear();
}

}  // namespace halod

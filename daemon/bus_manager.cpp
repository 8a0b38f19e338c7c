#include "daemon/bus_manager.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "Model-adaptor.h"
#include "daemon/bus_model.h"
#include "daemon/chat_request.h"
#include "daemon/bus_request.h"
#include "daemon/errors.h"
#include "daemon/event_loop.h"
#include "daemon/log.h"
#include "daemon/polkit.h"

#ifndef HALOD_VERSION
#define HALOD_VERSION "unknown"
#endif

namespace halod {

sdbus::Error to_dbus_error(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const sdbus::Error& err) {
    return err;
  } catch (const halo::Error& err) {
    return errors::from_engine(err);
  } catch (const std::exception& err) {
    return sdbus::Error(errors::kFailed, err.what());
  }
}

BusManager::BusManager(sdbus::IConnection& bus, Manager& manager, Authorizer& auth, EventLoop& loop,
                       std::function<halo::ttm::Report()> ttm)
    : AdaptorInterfaces(bus, kPath), bus_(bus), manager_(manager), auth_(auth), loop_(loop),
      ttm_source_(std::move(ttm)) {
  registerAdaptor();
  manager_.set_events(this);
  // A client that leaves the bus cancels its requests (their streams would
  // go nowhere and their GenerateText replies could not be delivered).
  dbus_daemon_ = sdbus::createProxy(bus_, "org.freedesktop.DBus", "/org/freedesktop/DBus");
  dbus_daemon_->uponSignal("NameOwnerChanged")
      .onInterface("org.freedesktop.DBus")
      .call([this](const std::string& name, const std::string& old_owner, const std::string& new_owner) {
        if (!name.empty() && name[0] == ':' && !old_owner.empty() && new_owner.empty()) client_vanished(name);
      });
  dbus_daemon_->finishRegistration();
}

BusManager::~BusManager() {
  auth_.fail_pending("halod is shutting down");
  manager_.set_events(nullptr);
  for (auto& [id, result] : awaiting_text_)
    result.returnError(sdbus::Error(errors::kNotFound, "halod is shutting down"));
  awaiting_text_.clear();
  requests_.clear();
  models_.clear();
  unregisterAdaptor();
}

std::string BusManager::model_path(uint64_t id) { return std::string(kPath) + "/model/" + std::to_string(id); }

std::string BusManager::sender() const { return getObject().getCurrentlyProcessedMessage()->getSender(); }

void BusManager::client_vanished(const std::string& unique_name) {
  auth_.forget(unique_name);
  manager_.cancel_requests_of(unique_name);
}

ResidentModel& BusManager::model(uint64_t id) {
  ResidentModel* m = manager_.find(id);
  if (!m) errors::fail(errors::kNotFound, "The model at " + model_path(id) + " has been unloaded");
  return *m;
}

ResidentModel& BusManager::loaded_model(uint64_t id) {
  ResidentModel& m = model(id);
  if (m.state == ModelState::Loading || !m.model)
    errors::fail(errors::kBusy, "'" + m.name + "' is still loading; try again when its State is ready");
  return m;
}

void BusManager::authorize(const std::string& sender, const std::string& action, std::function<void()> act,
                           std::function<void(const sdbus::Error&)> fail) {
  auth_.check(sender, action,
              [act = std::move(act), fail = std::move(fail)](const std::optional<sdbus::Error>& denied) {
                if (denied) return fail(*denied);
                try {
                  errors::guarded(act);
                } catch (const sdbus::Error& e) {
                  fail(e);
                }
              });
}

// --- methods ---------------------------------------------------------------

void BusManager::start_load(sdbus::Result<sdbus::ObjectPath>&& result, int fd, const std::string& path,
                            const LoadModelOptions& options) {
  // The result is shared by the completion callback; errors found at once
  // (no room, bad backend) are answered here, so the caller's catch never
  // touches the moved-from result.
  auto shared = std::make_shared<sdbus::Result<sdbus::ObjectPath>>(std::move(result));
  try {
    errors::guarded([&] {
      manager_.load(fd, path, options, [shared](ResidentModel* m, std::exception_ptr error) {
        if (error)
          shared->returnError(to_dbus_error(error));
        else
          shared->returnResults(sdbus::ObjectPath(model_path(m->id)));
      });
    });
  } catch (const sdbus::Error& e) {
    shared->returnError(e);
  }
}

void BusManager::LoadModel(sdbus::Result<sdbus::ObjectPath>&& result, std::string path, VariantMap options) {
  LoadModelOptions parsed;
  try {
    errors::guarded([&] { parsed = parse_load_options(options); });
  } catch (const sdbus::Error& e) {
    return result.returnError(e);
  }
  authorize(std::move(result), sender(), "org.halod.load", [this, path, parsed](auto& reply) {
    std::string real = resolve_model_path(path, manager_.settings().model_dirs);
    int fd = open(real.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      errors::fail(errno == ENOENT ? errors::kNotFound : errors::kAccessDenied,
                   "Cannot open '" + real + "': " + std::strerror(errno));
    start_load(std::move(reply), fd, real, parsed);
  });
}

void BusManager::LoadModelFd(sdbus::Result<sdbus::ObjectPath>&& result, sdbus::UnixFd fd, std::string name,
                             VariantMap options) {
  LoadModelOptions parsed;
  try {
    errors::guarded([&] {
      if (name.empty() || name.size() > 4096 || !is_valid_utf8(name))
        errors::fail(errors::kInvalidArgument, "Give the model a name of 1 to 4096 bytes of UTF-8 (its file path)");
      if (!fd.isValid()) errors::fail(errors::kInvalidArgument, "The file descriptor is not valid");
      int flags = fcntl(fd.get(), F_GETFL);
      if (flags < 0 || (flags & O_ACCMODE) == O_WRONLY)
        errors::fail(errors::kInvalidArgument, "The file descriptor is not open for reading");
      parsed = parse_load_options(options);
    });
  } catch (const sdbus::Error& e) {
    return result.returnError(e);
  }
  // Shared: the descriptor stays open (once) while polkit is asked.
  auto file = std::make_shared<sdbus::UnixFd>(std::move(fd));
  authorize(std::move(result), sender(), "org.halod.load", [this, file, name, parsed](auto& reply) {
    start_load(std::move(reply), file->release(), name, parsed);
  });
}

std::vector<sdbus::ObjectPath> BusManager::ListModels() {
  std::vector<sdbus::ObjectPath> out;
  for (ResidentModel* m : manager_.models()) out.emplace_back(model_path(m->id));
  return out;
}

// --- properties --------------------------------------------------------------

const halo::ttm::Report& BusManager::ttm_report() {
  // GetAll reads several properties at once; one reading serves them all.
  auto now = std::chrono::steady_clock::now();
  if (now - ttm_read_at_ > std::chrono::seconds(1)) {
    ttm_cache_ = ttm_source_();
    ttm_read_at_ = now;
  }
  return ttm_cache_;
}

std::string BusManager::Version() { return HALOD_VERSION; }

std::vector<sdbus::Struct<std::string, std::string>> BusManager::Backends() {
  std::vector<sdbus::Struct<std::string, std::string>> out;
  for (auto& b : manager_.backends()) out.emplace_back(b.name, b.device);
  return out;
}

std::string BusManager::DefaultBackend() { return manager_.default_backend(); }
uint64_t BusManager::GttTotal() { return ttm_report().drm ? ttm_report().drm->total : 0; }
uint64_t BusManager::GttUsed() { return ttm_report().drm ? ttm_report().drm->used : 0; }
uint64_t BusManager::PoolBudget() { return manager_.pool_budget(); }
uint64_t BusManager::PoolUsed() { return manager_.pool_used(); }
uint64_t BusManager::TtmPagesLimit() { return ttm_report().pages_limit.value_or(0); }
uint64_t BusManager::TtmPagePoolSize() { return ttm_report().page_pool_size.value_or(0); }
std::string BusManager::TtmStatus() { return std::string(halo::ttm::to_string(ttm_report().verdict)); }
std::vector<std::string> BusManager::TtmWarnings() { return ttm_report().warnings; }

// --- manager events ------------------------------------------------------------

void BusManager::model_added(ResidentModel& m) {
  auto object = std::make_unique<BusModel>(bus_, *this, m.id);
  object->emitInterfacesAddedSignal({org::halod::Halod1::Model_adaptor::INTERFACE_NAME});
  models_[m.id] = std::move(object);
}

void BusManager::model_changed(ResidentModel& m, const std::vector<std::string>& properties) {
  if (auto it = models_.find(m.id); it != models_.end())
    it->second->emitPropertiesChangedSignal(org::halod::Halod1::Model_adaptor::INTERFACE_NAME, properties);
}

void BusManager::model_removed(ResidentModel& m) {
  auto it = models_.find(m.id);
  if (it == models_.end()) return;
  it->second->emitInterfacesRemovedSignal({org::halod::Halod1::Model_adaptor::INTERFACE_NAME});
  // The object may be running its own Unload handler right now: destroy it
  // from the loop, after the handler has returned. Until then its getters
  // answer NotFound, since the model is gone from the manager.
  loop_.post([doomed = std::shared_ptr<BusModel>(std::move(it->second))] {});
  models_.erase(it);
}

void BusManager::pool_changed() {
  ttm_read_at_ = {};
  emitPropertiesChangedSignal(org::halod::Halod1::Manager_adaptor::INTERFACE_NAME, {"PoolUsed", "GttUsed"});
  if (on_status_)
    on_status_(std::to_string(manager_.models().size()) + " model(s) loaded; pool " +
               halo::ttm::format_bytes(manager_.pool_used()) + " of " + halo::ttm::format_bytes(manager_.pool_budget()));
}

std::string BusManager::export_request(const RequestPtr& r) {
  auto object = std::make_unique<BusRequest>(bus_, r);
  std::string path = object->getObjectPath();
  requests_[r->id] = std::move(object);
  return path;
}

void BusManager::await_text(const RequestPtr& r, TextResult&& result) {
  awaiting_text_.emplace(r->id, std::move(result));
}

void BusManager::request_started(const RequestPtr& r) {
  if (auto it = requests_.find(r->id); it != requests_.end()) it->second->state_changed();
}

void BusManager::request_finished(const RequestPtr& r) {
  log_info("Request " + std::to_string(r->id) + " ended: " + std::string(halo::stop_reason_name(r->stats.reason)) +
               " after " + std::to_string(r->stats.generated_tokens) + " tokens",
           {.request = std::to_string(r->id)});
  if (auto it = requests_.find(r->id); it != requests_.end()) {
    it->second->state_changed();
    loop_.post([doomed = std::shared_ptr<BusRequest>(std::move(it->second))] {});
    requests_.erase(it);
  }
  auto waiting = awaiting_text_.find(r->id);
  if (waiting == awaiting_text_.end()) return;
  if (r->stats.reason == halo::StopReason::Error) {
    waiting->second.returnError(sdbus::Error(errors::kFailed, "Generation failed: " + r->error));
  } else {
    StatsMap stats;
    stats["reason"] = sdbus::Variant(std::string(halo::stop_reason_name(r->stats.reason)));
    stats["prompt_tokens"] = sdbus::Variant(r->stats.prompt_tokens);
    stats["cached_tokens"] = sdbus::Variant(r->stats.cached_tokens);
    stats["generated_tokens"] = sdbus::Variant(r->stats.generated_tokens);
    stats["prompt_tps"] = sdbus::Variant(r->stats.prompt_tps());
    stats["generate_tps"] = sdbus::Variant(r->stats.generate_tps());
    if (r->chat && r->chat->tmpl.has_channels()) stats["reasoning"] = sdbus::Variant(r->reasoning);
    waiting->second.returnResults(r->text, stats);
  }
  awaiting_text_.erase(waiting);
}

}  // namespace halod

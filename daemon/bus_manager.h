// org.halod.Halod1.Manager on /org/halod/Halod1 (with the ObjectManager
// interface), and the owner of every model and request object on the bus.
// It turns Manager events into bus objects and signals, and answers the
// blocking GenerateText calls when their requests finish.
#pragma once
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <sdbus-c++/sdbus-c++.h>
#include <string>

#include "Manager-adaptor.h"
#include "daemon/manager.h"
#include "daemon/ttm/ttm.h"

namespace halod {

class Authorizer;
class BusModel;
class BusRequest;
class EventLoop;

using StatsMap = std::map<std::string, sdbus::Variant>;
using TextResult = sdbus::Result<std::string, StatsMap>;

// The sdbus::Error a client gets for any exception (see errors::guarded).
sdbus::Error to_dbus_error(std::exception_ptr e);

class BusManager final
    : public sdbus::AdaptorInterfaces<org::halod::Halod1::Manager_adaptor, sdbus::Properties_adaptor,
                                      sdbus::ObjectManager_adaptor>,
      public ManagerEvents {
 public:
  static constexpr const char* kPath = "/org/halod/Halod1";

  BusManager(sdbus::IConnection& bus, Manager& manager, Authorizer& auth, EventLoop& loop,
             std::function<halo::ttm::Report()> ttm);
  ~BusManager();
  BusManager(const BusManager&) = delete;
  BusManager& operator=(const BusManager&) = delete;

  // Used by BusModel.
  Manager& manager() { return manager_; }
  // The model with this id, or NotFound when it was unloaded.
  ResidentModel& model(uint64_t id);
  // The model once loaded (Busy while loading).
  ResidentModel& loaded_model(uint64_t id);
  // Asks polkit whether sender may perform action without waiting for the
  // answer, then answers result: with the refusal, or through act(result),
  // which replies itself or throws the sdbus::Error to reply with (act must
  // not throw after replying). act runs on the loop later (at once when
  // polkit is not asked), so it must look the model up again by id: it may
  // be gone. Nothing runs when sender leaves the bus first.
  template <typename... Out, typename Act>
  void authorize(sdbus::Result<Out...>&& result, const std::string& sender, const std::string& action, Act act) {
    auto reply = std::make_shared<sdbus::Result<Out...>>(std::move(result));
    authorize(sender, action, [reply, act = std::move(act)] { act(*reply); },
              [reply](const sdbus::Error& e) { reply->returnError(e); });
  }
  uint64_t next_request_id() { return next_request_id_++; }
  std::string export_request(const RequestPtr& r);
  void await_text(const RequestPtr& r, TextResult&& result);
  static std::string model_path(uint64_t id);
  // Receives a one-line summary whenever models or the pool change (STATUS=).
  void set_status_listener(std::function<void(const std::string&)> f) { on_status_ = std::move(f); }

 private:
  // org.halod.Halod1.Manager
  void LoadModel(sdbus::Result<sdbus::ObjectPath>&& result, std::string path, VariantMap options) override;
  void LoadModelFd(sdbus::Result<sdbus::ObjectPath>&& result, sdbus::UnixFd fd, std::string name,
                   VariantMap options) override;
  std::vector<sdbus::ObjectPath> ListModels() override;
  std::string Version() override;
  std::vector<sdbus::Struct<std::string, std::string>> Backends() override;
  std::string DefaultBackend() override;
  uint64_t GttTotal() override;
  uint64_t GttUsed() override;
  uint64_t PoolBudget() override;
  uint64_t PoolUsed() override;
  uint64_t TtmPagesLimit() override;
  uint64_t TtmPagePoolSize() override;
  std::string TtmStatus() override;
  std::vector<std::string> TtmWarnings() override;

  // ManagerEvents
  void model_added(ResidentModel& m) override;
  void model_changed(ResidentModel& m, const std::vector<std::string>& properties) override;
  void model_removed(ResidentModel& m) override;
  void pool_changed() override;
  void request_started(const RequestPtr& r) override;
  void request_finished(const RequestPtr& r) override;

  void authorize(const std::string& sender, const std::string& action, std::function<void()> act,
                 std::function<void(const sdbus::Error&)> fail);
  void start_load(sdbus::Result<sdbus::ObjectPath>&& result, int fd, const std::string& path,
                  const LoadModelOptions& options);
  std::string sender() const;
  const halo::ttm::Report& ttm_report();
  void client_vanished(const std::string& unique_name);

  sdbus::IConnection& bus_;
  Manager& manager_;
  Authorizer& auth_;
  EventLoop& loop_;
  std::function<halo::ttm::Report()> ttm_source_;
  halo::ttm::Report ttm_cache_;
  std::chrono::steady_clock::time_point ttm_read_at_{};
  std::map<uint64_t, std::unique_ptr<BusModel>> models_;
  std::map<uint64_t, std::unique_ptr<BusRequest>> requests_;
  std::map<uint64_t, TextResult> awaiting_text_;
  uint64_t next_request_id_ = 1;
  std::unique_ptr<sdbus::IProxy> dbus_daemon_;  // NameOwnerChanged: clients leaving
  std::function<void(const std::string&)> on_status_;
};

}  // namespace halod

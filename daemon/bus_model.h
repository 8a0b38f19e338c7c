// org.halod.Halod1.Model: the bus object of one resident model, at
// /org/halod/Halod1/model/<id>. It looks its model up by id on every call, so
// a call that races with an unload gets NotFound instead of a dangling model.
// Calls that ask polkit finish after this object may be gone: what they do
// then holds only the BusManager and the model's id.
#pragma once
#include <sdbus-c++/sdbus-c++.h>

#include "Model-adaptor.h"
#include "daemon/bus_manager.h"
#include "daemon/chat_request.h"
#include "daemon/errors.h"

namespace halod {

class BusModel final
    : public sdbus::AdaptorInterfaces<org::halod::Halod1::Model_adaptor, sdbus::Properties_adaptor,
                                      sdbus::ManagedObject_adaptor> {
 public:
  BusModel(sdbus::IConnection& bus, BusManager& owner, uint64_t model_id);
  ~BusModel();
  BusModel(const BusModel&) = delete;
  BusModel& operator=(const BusModel&) = delete;

 private:
  void Unload(sdbus::Result<>&& result) override;
  void SwitchBackend(sdbus::Result<uint64_t>&& result, std::string backend) override;
  std::vector<uint32_t> Tokenize(const std::string& text) override;
  std::string Detokenize(const std::vector<uint32_t>& tokens) override;
  void Generate(sdbus::Result<sdbus::ObjectPath, sdbus::UnixFd>&& result, std::string prompt,
                VariantMap options) override;
  void GenerateText(TextResult&& result, std::string prompt, VariantMap options) override;
  // Chat and ChatText: bus_chat.cpp.
  void Chat(sdbus::Result<sdbus::ObjectPath, sdbus::UnixFd>&& result, ChatMessages messages,
            VariantMap options) override;
  void ChatText(TextResult&& result, ChatMessages messages, VariantMap options) override;

  std::string Name() override { return model().name; }
  std::string Path() override { return model().path; }
  std::string Architecture() override { return model().architecture; }
  std::string Quantization() override { return model().quantization; }
  uint64_t Parameters() override { return model().n_params; }
  uint64_t SizeBytes() override { return model().size_bytes; }
  std::string Backend() override { return model().backend_name; }
  std::string State() override;
  uint32_t ContextLength() override { return model().n_ctx; }
  int32_t KeepAlive() override { return model().keep_alive; }
  uint64_t LastUsed() override { return model().last_used_us; }
  double LoadProgress() override { return model().load_progress; }
  bool Pinned() override { return model().pinned; }

  // The model, or NotFound when it was unloaded.
  ResidentModel& model() { return owner_.model(model_id_); }
  // The model once loaded (Busy while loading).
  ResidentModel& loaded_model() { return owner_.loaded_model(model_id_); }
  std::string sender() const;
  // Checks the prompt and options and builds a request (not yet queued).
  RequestPtr make_request(ResidentModel& m, const std::string& prompt, const VariantMap& options);
  RequestPtr make_chat_request(ResidentModel& m, const ChatMessages& messages, VariantMap options);
  // make()'s request, or null after answering result with make()'s bus error.
  template <typename Result, typename Make>
  static RequestPtr made_or_answered(Result& result, Make make) {
    RequestPtr request;
    try {
      errors::guarded([&] { request = make(); });
    } catch (const sdbus::Error& e) {
      result.returnError(e);
      return nullptr;
    }
    return request;
  }
  // Once authorized: queues the request and answers with its object and
  // stream (Generate, Chat), or when it finishes (GenerateText, ChatText).
  void queue_streamed(sdbus::Result<sdbus::ObjectPath, sdbus::UnixFd>&& result, const RequestPtr& request);
  void queue_text(TextResult&& result, const RequestPtr& request);

  BusManager& owner_;
  const uint64_t model_id_;
};

}  // namespace halod

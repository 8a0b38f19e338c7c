// halod's D-Bus method handlers on what a hostile local client can send:
// each input is a few calls (LoadModel, LoadModelFd with the input's own
// bytes as the file, Tokenize, Detokenize, Generate, GenerateText,
// SwitchBackend, Unload, Cancel, property reads, and calls of any method
// with arguments of any type) to the halod objects this process serves
// (fuzz/bus_daemon.h). Run under dbus-run-session, with HALO_FIXTURES set.
//
// Properties: every call is answered within its timeout, with a result or
// one of the API's named errors (never Failed, never no reply); a stream
// ends; afterwards the daemon still answers and the model every input
// shares is ready again.
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fuzzer/FuzzedDataProvider.h>
#include <memory>
#include <sdbus-c++/sdbus-c++.h>
#include <string>
#include <thread>
#include <vector>

#include "fuzz/bus_daemon.h"
#include "fuzz/check.h"
#include "fuzz/mem_file.h"
#include "fuzz/variant_maker.h"

namespace {

constexpr const char* kService = "org.halod.Halod1";
constexpr const char* kManagerPath = "/org/halod/Halod1";
constexpr const char* kManagerIface = "org.halod.Halod1.Manager";
constexpr const char* kModelIface = "org.halod.Halod1.Model";
constexpr const char* kRequestIface = "org.halod.Halod1.Request";
constexpr uint64_t kCallTimeoutUs = 30'000'000;  // a call not answered by then is a hang
constexpr int kStreamTimeoutMs = 30'000;
// The model every input shares: small, SentencePiece vocabulary.
constexpr const char* kBaseModel = "llama-spm-q4_k_m.gguf";

struct State {
  std::string models_dir;  // the fixtures' models/, one of the model_dirs
  std::string odd_dir;     // a model_dir with a FIFO, a directory and an empty file
  std::unique_ptr<halo::fuzz::InProcessDaemon> daemon;
  std::unique_ptr<sdbus::IConnection> client;
  std::string base_path;  // the shared model's object path
};

State& state() {
  static State s;
  return s;
}

std::unique_ptr<sdbus::IProxy> proxy(const std::string& path) {
  return sdbus::createProxy(*state().client, kService, path);
}

bool allowed_error(const std::string& name) {
  static const char* const names[] = {
      "org.halod.Halod1.Error.NotFound", "org.halod.Halod1.Error.InvalidArgument",
      "org.halod.Halod1.Error.NoMemory", "org.halod.Halod1.Error.AccessDenied",
      "org.halod.Halod1.Error.Busy", "org.halod.Halod1.Error.BadModel",
      // sd-bus's own answers: no such method/object/property, wrong signature.
      "org.freedesktop.DBus.Error.UnknownMethod", "org.freedesktop.DBus.Error.UnknownObject",
      "org.freedesktop.DBus.Error.UnknownInterface", "org.freedesktop.DBus.Error.UnknownProperty",
      "org.freedesktop.DBus.Error.InvalidArgs", "org.freedesktop.DBus.Error.PropertyReadOnly"};
  for (const char* n : names)
    if (name == n) return true;
  return false;
}

// Sends call; returns the reply, or nothing after checking the error.
std::optional<sdbus::MethodReply> answer(sdbus::IProxy& p, sdbus::MethodCall& call) {
  try {
    return p.callMethod(call, kCallTimeoutUs);
  } catch (const sdbus::Error& e) {
    if (!allowed_error(e.getName())) {
      std::fprintf(stderr, "%s.%s on %s answered %s: %s\n", call.getInterfaceName().c_str(),
                   call.getMemberName().c_str(), call.getPath().c_str(), e.getName().c_str(),
                   e.getMessage().c_str());
      FUZZ_CHECK(!"an answer outside the API's errors");
    }
    return std::nullopt;
  }
}

// Reads a stream to its end; it must end within the timeout.
void drain(int fd) {
  char buf[4096];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kStreamTimeoutMs);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    FUZZ_CHECK(left.count() > 0);  // the stream did not end in time
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    if (read(fd, buf, sizeof buf) <= 0) return;
  }
}

std::vector<sdbus::ObjectPath> list_models() {
  auto p = proxy(kManagerPath);
  auto call = p->createMethodCall(kManagerIface, "ListModels");
  auto reply = answer(*p, call);
  FUZZ_CHECK(reply.has_value());  // halod answers ListModels always
  std::vector<sdbus::ObjectPath> paths;
  *reply >> paths;
  return paths;
}

std::string model_state(const std::string& path) {
  try {
    return proxy(path)->getProperty("State").onInterface(kModelIface).get<std::string>();
  } catch (const sdbus::Error&) {
    return "";
  }
}

std::string load_base_model() {
  auto p = proxy(kManagerPath);
  auto call = p->createMethodCall(kManagerIface, "LoadModel");
  call << state().models_dir + "/" + kBaseModel << std::map<std::string, sdbus::Variant>{
      {"backend", sdbus::Variant(std::string("cpu"))}, {"context_length", sdbus::Variant(uint32_t{256})}};
  auto reply = answer(*p, call);
  FUZZ_CHECK(reply.has_value());
  sdbus::ObjectPath path;
  *reply >> path;
  return path;
}

class Caller {
 public:
  explicit Caller(FuzzedDataProvider& in) : in_(in), make_(in) {}

  void one_call() {
    switch (in_.ConsumeIntegralInRange<int>(0, 11)) {
      case 0: return load_by_path();
      case 1: return load_fd();
      case 2: return tokenize();
      case 3: return detokenize();
      case 4: return generate();
      case 5: return generate_text();
      case 6: return switch_backend();
      case 7: return unload_other();
      case 8: return cancel();
      case 9: return read_properties();
      case 10: return managed_objects();
      default: return any_method();
    }
  }

 private:
  // Mostly the shared model; sometimes one loaded by this input or none.
  std::string model_path() {
    if (in_.ConsumeIntegralInRange<int>(0, 3) > 0) return state().base_path;
    return "/org/halod/Halod1/model/" + std::to_string(in_.ConsumeIntegralInRange<int>(0, 8));
  }

  void call(const std::string& path, const char* iface, const char* method, auto append) {
    auto p = proxy(path);
    auto c = p->createMethodCall(iface, method);
    if (!appended(c, append)) return;
    answer(*p, c);
  }

  // False when sd-bus refuses to put an argument in a message (a string that
  // is not UTF-8): no client can send that either.
  static bool appended(sdbus::MethodCall& c, auto append) {
    try {
      append(c);
      return true;
    } catch (const sdbus::Error&) {
      return false;
    }
  }

  void load_by_path() {
    static const char* const names[] = {"llama-spm-q4_k_m.gguf", "qwen2-spm-q4_0.gguf", "qwen3moe-q4_k_m.gguf",
                                        "gpt-oss-mxfp4.gguf", "missing.gguf", "../vocab/llama-spm.gguf", ""};
    std::string path;
    switch (in_.ConsumeIntegralInRange<int>(0, 3)) {
      case 0: path = state().models_dir + "/" + names[in_.ConsumeIntegralInRange<size_t>(0, std::size(names) - 1)]; break;
      case 1: path = state().odd_dir + "/" + (in_.ConsumeBool() ? "fifo" : in_.ConsumeBool() ? "empty.gguf" : "dir.gguf"); break;
      case 2: path = "/proc/self/fd/0"; break;
      default: path = make_.text(128);
    }
    auto options = make_.options();
    call(kManagerPath, kManagerIface, "LoadModel", [&](auto& c) { c << path << options; });
  }

  void load_fd() {
    const std::string name = make_.text(32);
    auto options = make_.options();
    const std::vector<uint8_t> bytes = in_.ConsumeBytes<uint8_t>(in_.ConsumeIntegralInRange<size_t>(0, 1 << 16));
    halo::fuzz::MemFile file(bytes.data(), bytes.size());
    call(kManagerPath, kManagerIface, "LoadModelFd",
         [&](auto& c) { c << sdbus::UnixFd(file.fd()) << name << options; });
  }

  void tokenize() {
    const std::string text = make_.text(512);
    call(model_path(), kModelIface, "Tokenize", [&](auto& c) { c << text; });
  }

  void detokenize() {
    std::vector<uint32_t> ids(in_.ConsumeIntegralInRange<size_t>(0, 64));
    for (auto& id : ids) id = in_.ConsumeBool() ? in_.ConsumeIntegralInRange<uint32_t>(0, 40000) : in_.ConsumeIntegral<uint32_t>();
    call(model_path(), kModelIface, "Detokenize", [&](auto& c) { c << ids; });
  }

  void generate() {
    const std::string path = model_path(), prompt = make_.text(256);
    auto options = make_.options();
    const bool cancel_at_once = in_.ConsumeBool();
    auto p = proxy(path);
    auto c = p->createMethodCall(kModelIface, "Generate");
    if (!appended(c, [&](auto& m) { m << prompt << options; })) return;
    auto reply = answer(*p, c);
    if (!reply) return;
    sdbus::ObjectPath request;
    sdbus::UnixFd stream;
    *reply >> request >> stream;
    if (cancel_at_once) call(request, kRequestIface, "Cancel", [](auto&) {});
    drain(stream.get());
  }

  void generate_text() {
    const std::string path = model_path(), prompt = make_.text(256);
    auto options = make_.options();
    call(path, kModelIface, "GenerateText", [&](auto& c) { c << prompt << options; });
  }

  void switch_backend() {
    static const char* const names[] = {"cpu", "vulkan", "rocm", "auto", ""};
    const std::string backend = in_.ConsumeBool() ? names[in_.ConsumeIntegralInRange<size_t>(0, 4)] : make_.text(16);
    call(model_path(), kModelIface, "SwitchBackend", [&](auto& c) { c << backend; });
  }

  // Unload takes no arguments; models this input loaded are unloaded by
  // reset() anyway, so here it only races with what else the input does.
  void unload_other() {
    for (auto& path : list_models())
      if (path != state().base_path && in_.ConsumeBool()) call(path, kModelIface, "Unload", [](auto&) {});
  }

  void cancel() {
    const std::string path = "/org/halod/Halod1/request/" + std::to_string(in_.ConsumeIntegralInRange<int>(0, 64));
    call(path, kRequestIface, "Cancel", [](auto&) {});
  }

  void read_properties() {
    const bool manager = in_.ConsumeBool();
    const std::string path = manager ? std::string(kManagerPath) : model_path();
    const char* iface = manager ? kManagerIface : kModelIface;
    call(path, "org.freedesktop.DBus.Properties", "GetAll", [&](auto& c) { c << std::string(iface); });
  }

  void managed_objects() {
    call(kManagerPath, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", [](auto&) {});
  }

  // Any method name of any interface, with arguments of any types: sd-bus
  // checks signatures, halod the rest.
  void any_method() {
    static const char* const methods[] = {"LoadModel", "LoadModelFd", "ListModels", "Tokenize", "Detokenize",
                                          "Generate", "GenerateText", "SwitchBackend", "Cancel", "Get"};
    static const char* const ifaces[] = {kManagerIface, kModelIface, kRequestIface, "org.freedesktop.DBus.Properties"};
    const std::string path = in_.ConsumeBool() ? std::string(kManagerPath) : model_path();
    const char* iface = ifaces[in_.ConsumeIntegralInRange<size_t>(0, std::size(ifaces) - 1)];
    const char* method = methods[in_.ConsumeIntegralInRange<size_t>(0, std::size(methods) - 1)];
    call(path, iface, method, [&](auto& c) {
      for (int n = in_.ConsumeIntegralInRange<int>(0, 3); n > 0; --n) append_any(c);
    });
  }

  void append_any(sdbus::MethodCall& c) {
    switch (in_.ConsumeIntegralInRange<int>(0, 6)) {
      case 0: c << make_.text(); break;
      case 1: c << in_.ConsumeIntegral<uint32_t>(); break;
      case 2: c << in_.ConsumeIntegral<int32_t>(); break;
      case 3: c << in_.ConsumeBool(); break;
      case 4: c << std::vector<uint32_t>(in_.ConsumeIntegralInRange<size_t>(0, 8), in_.ConsumeIntegral<uint32_t>()); break;
      case 5: c << make_.options(); break;
      default:
        if (auto v = make_.value()) c << *v;
    }
  }

  FuzzedDataProvider& in_;
  halo::fuzz::VariantMaker make_;
};

// Unloads what the input loaded and waits until the shared model is ready
// again: a model left busy or loading is a finding.
void reset() {
  for (auto& path : list_models())
    if (path != state().base_path) {
      auto p = proxy(path);
      auto c = p->createMethodCall(kModelIface, "Unload");
      try {
        p->callMethod(c, kCallTimeoutUs);
      } catch (const sdbus::Error& e) {
        FUZZ_CHECK(e.getName() == "org.halod.Halod1.Error.NotFound" || e.getName() == "org.halod.Halod1.Error.Busy");
      }
    }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (model_state(state().base_path) != "ready") {
    FUZZ_CHECK(std::chrono::steady_clock::now() < deadline);  // the shared model stays busy
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void stop_daemon() {
  state().client.reset();
  state().daemon.reset();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* fixtures = std::getenv("HALO_FIXTURES");
  if (!fixtures || !*fixtures || !std::getenv("DBUS_SESSION_BUS_ADDRESS")) {
    std::fprintf(stderr, "fuzz-bus: run it under dbus-run-session with HALO_FIXTURES set\n");
    std::exit(2);
  }
  State& s = state();
  s.models_dir = std::string(fixtures) + "/models";
  char odd[] = "/tmp/halo-fuzz-bus-XXXXXX";
  FUZZ_CHECK(mkdtemp(odd) != nullptr);
  s.odd_dir = odd;
  FUZZ_CHECK(std::system(("mkfifo " + s.odd_dir + "/fifo && mkdir " + s.odd_dir + "/dir.gguf && : > " +
                          s.odd_dir + "/empty.gguf").c_str()) == 0);
  halo::fuzz::DaemonSettings settings;
  settings.model_dirs = {s.models_dir, s.odd_dir};
  s.daemon = std::make_unique<halo::fuzz::InProcessDaemon>(settings);
  s.client = sdbus::createSessionBusConnection();
  s.base_path = load_base_model();
  std::atexit(stop_daemon);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  Caller caller(in);
  for (int n = in.ConsumeIntegralInRange<int>(1, 4); n > 0; --n) caller.one_call();
  reset();
  return 0;
}

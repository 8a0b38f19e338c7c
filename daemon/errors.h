// The daemon's named D-Bus errors (org.halod.Halod1.Error.*). Handlers throw
// sdbus::Error with one of these names; sdbus-c++ turns it into the reply.
#pragma once
#include <sdbus-c++/Error.h>

#include <string>

#include "engine/error.h"

namespace halod::errors {

inline constexpr const char* kNotFound = "org.halod.Halod1.Error.NotFound";
inline constexpr const char* kInvalidArgument = "org.halod.Halod1.Error.InvalidArgument";
inline constexpr const char* kNoMemory = "org.halod.Halod1.Error.NoMemory";
inline constexpr const char* kAccessDenied = "org.halod.Halod1.Error.AccessDenied";
inline constexpr const char* kBusy = "org.halod.Halod1.Error.Busy";
inline constexpr const char* kBadModel = "org.halod.Halod1.Error.BadModel";
// Not in the fixed list of the API: a device or driver failure, or a bug.
inline constexpr const char* kFailed = "org.halod.Halod1.Error.Failed";

[[noreturn]] inline void fail(const char* name, const std::string& message) {
  throw sdbus::Error(name, message);
}

// The D-Bus error for an engine error (Io becomes NotFound or AccessDenied
// only by message; the engine's Io means "cannot open/read").
inline sdbus::Error from_engine(const halo::Error& e) {
  switch (e.kind()) {
    case halo::ErrorKind::BadModel: return sdbus::Error(kBadModel, e.what());
    case halo::ErrorKind::NoMemory: return sdbus::Error(kNoMemory, e.what());
    case halo::ErrorKind::InvalidArgument: return sdbus::Error(kInvalidArgument, e.what());
    case halo::ErrorKind::Io: return sdbus::Error(kNotFound, e.what());
    case halo::ErrorKind::Device: break;
  }
  return sdbus::Error(kFailed, e.what());
}

// Runs a handler body so that only sdbus::Error leaves it: an exception of
// another type escaping into sd-bus's C code would end the daemon.
template <typename F>
auto guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const sdbus::Error&) {
    throw;
  } catch (const halo::Error& e) {
    throw from_engine(e);
  } catch (const std::exception& e) {
    throw sdbus::Error(kFailed, e.what());
  }
}

}  // namespace halod::errors

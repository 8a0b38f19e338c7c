// Engine errors: one exception type whose kind tells callers (halo-run, the
// daemon's D-Bus layer) how to report it. Messages are written for people.
#pragma once
#include <stdexcept>
#include <string>

namespace halo {

enum class ErrorKind {
  BadModel,         // malformed or unsupported GGUF / architecture / tensor type
  NoMemory,         // pool budget or device memory exhausted
  InvalidArgument,  // caller passed something unusable (prompt too long, bad option)
  Device,           // backend/device failure (device lost, driver error)
  Io,               // cannot open/read a file
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace halo

// Reads halod.toml and its drop-ins into a Config, checking every key.
#include "daemon/config/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <system_error>

namespace halo::config {
namespace {

constexpr std::string_view kBackends[] = {"auto", "vulkan", "rocm", "cpu"};

std::string type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time:
      return "a date/time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

// Applies one parsed document to a Config; every error names source:line:column.
class DocumentReader {
 public:
  DocumentReader(Config& config, std::string_view source) : config_(config), source_(source) {}

  void apply(const toml::table& root) {
    auto member = [this](void (DocumentReader::*read)(const toml::node&, const std::string&)) -> Handler {
      return [this, read](const toml::node& node, const std::string& key) { (this->*read)(node, key); };
    };
    dispatch(root, "",
             {{"model_dirs", member(&DocumentReader::read_model_dirs)},
              {"preload", member(&DocumentReader::read_preload)},
              {"default_backend", member(&DocumentReader::read_default_backend)},
              {"reserve", member(&DocumentReader::read_reserve)},
              {"keep_alive", member(&DocumentReader::read_keep_alive)},
              {"context_length", member(&DocumentReader::read_context_length)},
              {"queue", member(&DocumentReader::read_queue)},
              {"polkit", member(&DocumentReader::read_polkit)},
              {"sysfs_root", member(&DocumentReader::read_sysfs_root)},
              {"cache_dir", member(&DocumentReader::read_cache_dir)}});
  }

 private:
  using Handler = std::function<void(const toml::node&, const std::string&)>;

  [[noreturn]] void fail(const toml::source_region& where, const std::string& message) const {
    std::ostringstream out;
    out << source_ << ':' << where.begin.line << ':' << where.begin.column << ": " << message;
    throw ConfigError(out.str());
  }

  [[noreturn]] void wrong_type(const toml::node& node, const std::string& key, std::string_view expected) const {
    fail(node.source(), key + ": expected " + std::string(expected) + ", got " + type_name(node));
  }

  std::string string_value(const toml::node& node, const std::string& key) const {
    if (!node.is_string()) wrong_type(node, key, "a string");
    return *node.value<std::string>();
  }

  int64_t integer_value(const toml::node& node, const std::string& key, int64_t min, int64_t max) const {
    if (!node.is_integer()) wrong_type(node, key, "an integer");
    const int64_t value = *node.value<int64_t>();
    if (value < min || value > max) {
      fail(node.source(), key + ": " + std::to_string(value) + " is out of range; expected " + std::to_string(min) +
                              " to " + std::to_string(max));
    }
    return value;
  }

  uint32_t u32_value(const toml::node& node, const std::string& key, int64_t min) const {
    return static_cast<uint32_t>(integer_value(node, key, min, std::numeric_limits<uint32_t>::max()));
  }

  bool bool_value(const toml::node& node, const std::string& key) const {
    if (!node.is_boolean()) wrong_type(node, key, "true or false");
    return *node.value<bool>();
  }

  // A byte count: an integer, or a string with a unit ("4GiB").
  uint64_t size_value(const toml::node& node, const std::string& key) const {
    if (node.is_integer())
      return static_cast<uint64_t>(integer_value(node, key, 0, std::numeric_limits<int64_t>::max()));
    if (!node.is_string()) wrong_type(node, key, "a size (bytes, or a string such as \"4GiB\")");
    try {
      return parse_size(*node.value<std::string>());
    } catch (const std::invalid_argument& e) {
      fail(node.source(), key + ": " + e.what());
    }
  }

  std::filesystem::path absolute_path_value(const toml::node& node, const std::string& key) const {
    std::string text = string_value(node, key);
    if (text.empty() || text.front() != '/') {
      fail(node.source(), key + ": \"" + text + "\" is not an absolute path; expected one starting with /");
    }
    return text;
  }

  std::string backend_value(const toml::node& node, const std::string& key) const {
    std::string name = string_value(node, key);
    if (std::find(std::begin(kBackends), std::end(kBackends), name) == std::end(kBackends)) {
      fail(node.source(), key + ": unknown backend \"" + name + "\"; expected auto, vulkan, rocm or cpu");
    }
    return name;
  }

  int64_t keep_alive_value(const toml::node& node, const std::string& key) const {
    return integer_value(node, key, -1, std::numeric_limits<int32_t>::max());
  }

  // Runs the handler of each key in table, failing on keys it does not know.
  void dispatch(const toml::table& table, const std::string& prefix,
                const std::map<std::string, Handler>& handlers) const {
    for (auto&& [key, node] : table) {
      const std::string name(key.str());
      auto handler = handlers.find(name);
      if (handler == handlers.end()) {
        std::string known;
        for (const auto& [known_name, unused] : handlers) known += (known.empty() ? "" : ", ") + known_name;
        fail(key.source(), "unknown key \"" + prefix + name + "\"; expected one of: " + known);
      }
      handler->second(node, prefix + name);
    }
  }

  const toml::table& table_value(const toml::node& node, const std::string& key) const {
    if (!node.is_table()) wrong_type(node, key, "a table");
    return *node.as_table();
  }

  const toml::array& array_value(const toml::node& node, const std::string& key) const {
    if (!node.is_array()) wrong_type(node, key, "an array");
    return *node.as_array();
  }

  void read_model_dirs(const toml::node& node, const std::string& key) {
    std::vector<std::filesystem::path> dirs;
    for (const auto& element : array_value(node, key)) dirs.push_back(absolute_path_value(element, key + "[]"));
    config_.model_dirs = std::move(dirs);
  }

  void read_preload(const toml::node& node, const std::string& key) {
    std::vector<Preload> models;
    for (const auto& element : array_value(node, key)) {
      const auto& table = table_value(element, key + "[]");
      Preload model;
      bool has_path = false;
      dispatch(table, key + ".",
               {{"path",
                 [&](const toml::node& n, const std::string& k) {
                   model.path = absolute_path_value(n, k);
                   has_path = true;
                 }},
                {"backend", [&](const toml::node& n, const std::string& k) { model.backend = backend_value(n, k); }},
                {"pinned", [&](const toml::node& n, const std::string& k) { model.pinned = bool_value(n, k); }},
                {"keep_alive",
                 [&](const toml::node& n, const std::string& k) { model.keep_alive = keep_alive_value(n, k); }}});
      if (!has_path)
        fail(element.source(), key + ": this entry has no \"path\"; expected path = \"/path/to/model.gguf\"");
      models.push_back(std::move(model));
    }
    config_.preload = std::move(models);
  }

  void read_default_backend(const toml::node& node, const std::string& key) {
    config_.default_backend = backend_value(node, key);
  }
  void read_reserve(const toml::node& node, const std::string& key) { config_.reserve = size_value(node, key); }
  void read_keep_alive(const toml::node& node, const std::string& key) {
    config_.keep_alive = keep_alive_value(node, key);
  }
  void read_context_length(const toml::node& node, const std::string& key) {
    config_.context_length = u32_value(node, key, 0);
  }
  void read_sysfs_root(const toml::node& node, const std::string& key) {
    config_.sysfs_root = absolute_path_value(node, key);
  }
  void read_cache_dir(const toml::node& node, const std::string& key) {
    config_.cache_dir = absolute_path_value(node, key);
  }

  void read_queue(const toml::node& node, const std::string& key) {
    dispatch(
        table_value(node, key), key + ".",
        {{"max_queued", [&](const toml::node& n, const std::string& k) { config_.max_queued = u32_value(n, k, 1); }},
         {"max_tokens", [&](const toml::node& n, const std::string& k) { config_.max_tokens = u32_value(n, k, 1); }},
         {"max_prompt_bytes", [&](const toml::node& n, const std::string& k) {
            config_.max_prompt_bytes = size_value(n, k);
            if (config_.max_prompt_bytes == 0) fail(n.source(), k + ": expected at least 1 byte");
          }}});
  }

  void read_polkit(const toml::node& node, const std::string& key) {
    dispatch(table_value(node, key), key + ".", {{"in_session", [&](const toml::node& n, const std::string& k) {
                                                    config_.polkit_in_session = bool_value(n, k);
                                                  }}});
  }

  Config& config_;
  std::string source_;
};

std::string read_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw ConfigError("Failed to read " + path.string() + ": not a regular file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("Failed to open " + path.string() + ": " + std::generic_category().message(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError("Failed to read " + path.string());
  return text.str();
}

void apply_file(Config& config, const std::filesystem::path& path) {
  apply_toml(config, read_file(path), path.string());
  config.sources.push_back(path);
}

// "<main>.d/*.conf" and "*.toml", sorted by file name.
std::vector<std::filesystem::path> drop_ins(const std::filesystem::path& main_file) {
  const std::filesystem::path dir = main_file.string() + ".d";
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return files;
  for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    const auto ext = it->path().extension();
    if ((ext == ".conf" || ext == ".toml") && it->is_regular_file()) files.push_back(it->path());
  }
  if (ec) throw ConfigError("Failed to list " + dir.string() + ": " + ec.message());
  std::sort(files.begin(), files.end(),
            [](const auto& a, const auto& b) { return a.filename().string() < b.filename().string(); });
  return files;
}

}  // namespace

void apply_toml(Config& config, std::string_view toml_text, std::string_view source_name) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    std::ostringstream out;
    out << source_name << ':' << e.source().begin.line << ':' << e.source().begin.column
        << ": invalid TOML: " << e.description();
    throw ConfigError(out.str());
  }
  DocumentReader(config, source_name).apply(root);
}

Config load(const std::filesystem::path& main_file, const LoadOptions& options) {
  Config config;
  std::error_code ec;
  if (std::filesystem::exists(main_file, ec)) {
    apply_file(config, main_file);
  } else if (options.main_must_exist) {
    throw ConfigError("Failed to open " + main_file.string() + ": no such file");
  }
  for (const auto& file : drop_ins(main_file)) apply_file(config, file);
  return config;
}

}  // namespace halo::config

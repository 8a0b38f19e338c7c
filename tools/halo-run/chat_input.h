// halo-run's chat inputs: the messages file and the template to render it with.
#pragma once
#include <string>
#include <vector>

#include "engine/chat/chat.h"
#include "tools/halo-run/modes.h"

namespace halo::run {

// [{"role": ..., "content": ...}, ...]; throws UsageError saying what is wrong where.
std::vector<chat::Message> read_messages(const std::string& path);
// --chat-template FILE or --template NAME, else the model's own template.
chat::Template chat_template_for(const Options& opts, const gguf::File& file, const std::string& model_name);

}  // namespace halo::run

// Every case of ../shared/fixtures/chat/cases.json: the template file is
// recognised and rendered natively, and the text must equal what Hugging
// Face transformers rendered, byte for byte (or fail where it raised).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/chat/chat.h"
#include "engine/error.h"
#include "tests/fixtures.h"

namespace halo::chat {
namespace {

using nlohmann::json;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const json& cases() {
  static const json all = json::parse(read_text(test::fixture("chat/cases.json")));
  return all;
}

// "qwen2.5 #3 (user, generation prompt)": which case failed, for people.
std::string describe(size_t i) {
  const json& c = cases()[i];
  std::string roles;
  for (const json& m : c["messages"]) roles += (roles.empty() ? "" : ", ") + m["role"].get<std::string>();
  return c["template"].get<std::string>() + " #" + std::to_string(i) + " (" + roles +
         (c["add_generation_prompt"].get<bool>() ? ", generation prompt)" : ")");
}

RenderOptions options_of(const json& c) {
  RenderOptions o;
  o.add_generation_prompt = c["add_generation_prompt"];
  if (!c["bos_token"].is_null()) o.bos_token = c["bos_token"];
  if (!c["eos_token"].is_null()) o.eos_token = c["eos_token"];
  std::istringstream now(c["now"].get<std::string>());
  now >> std::get_time(&o.now, "%Y-%m-%dT%H:%M:%S");
  return o;
}

std::vector<Message> messages_of(const json& c) {
  std::vector<Message> out;
  for (const json& m : c["messages"]) out.push_back({m["role"], m["content"]});
  return out;
}

class TheChatFixture : public ::testing::TestWithParam<size_t> {};

TEST(TheChatFixtureFile, HoldsFortyCases) { EXPECT_EQ(cases().size(), 40u); }

TEST_P(TheChatFixture, RendersTheCaseAsTransformersDoes) {
  const json& c = cases()[GetParam()];
  SCOPED_TRACE(describe(GetParam()));
  const Template tmpl = Template::recognise(read_text(test::fixture("chat/" + c["template"].get<std::string>())));
  const std::vector<Message> messages = messages_of(c);
  if (c["expected"].is_null()) {
    EXPECT_THROW(tmpl.render(messages, options_of(c)), Error) << "the template raised: " << c["error"];
    return;
  }
  EXPECT_EQ(tmpl.render(messages, options_of(c)).text(), c["expected"].get<std::string>());
}

INSTANTIATE_TEST_SUITE_P(EveryCase, TheChatFixture, ::testing::Range<size_t>(0, 40),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           std::string name = describe(info.param);
                           for (char& ch : name)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name;
                         });

}  // namespace
}  // namespace halo::chat

// The families beyond the shared fixture: each renders a conversation as its
// original template does (the expected texts were rendered from the models'
// own templates with Jinja2, as transformers renders them), each is
// recognised by the parts of its template that set it apart, and an unknown
// template or family is an error that says what to do.
#include <gtest/gtest.h>

#include <fstream>

#include "engine/chat/chat.h"
#include "engine/error.h"
#include "engine/gguf/gguf.h"
#include "tests/chat/model_copy.h"
#include "tests/fixtures.h"
#include "tests/temp_dir.h"

namespace halo::chat {
namespace {

RenderOptions at_fixed_date(bool generation_prompt) {
  RenderOptions o;
  o.add_generation_prompt = generation_prompt;
  o.bos_token = "<s>";
  o.eos_token = "</s>";
  o.now.tm_year = 125;  // 2025-01-15
  o.now.tm_mon = 0;
  o.now.tm_mday = 15;
  return o;
}

const std::vector<Message> kConversation = {{"system", "You are terse."},
                                            {"user", "Hi"},
                                            {"assistant", "<think>hmm</think>Hello."},
                                            {"user", "Bye?"}};
const std::vector<Message> kClosedChat = {{"user", "Hi"}, {"assistant", "Hello."}};

struct Rendering {
  const char* family;
  const char* conversation;  // kConversation with the generation prompt
  const char* closed_chat;   // kClosedChat without it
};

const Rendering kRenderings[] = {
    {"qwen3", "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye?<|im_end|>\n<|im_start|>assistant\n",
     "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nHello.<|im_end|>\n"},
    {"llama3.1", "<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou are terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n<think>hmm</think>Hello.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nBye?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
     "<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"},
    {"deepseek-r1", "<s>You are terse.<｜User｜>Hi<｜Assistant｜>Hello.<｜end▁of▁sentence｜><｜User｜>Bye?<｜Assistant｜><think>\n",
     "<s><｜User｜>Hi<｜Assistant｜>Hello.<｜end▁of▁sentence｜>"},
    {"phi4-mini", "<|system|>You are terse.<|end|><|user|>Hi<|end|><|assistant|><think>hmm</think>Hello.<|end|><|user|>Bye?<|end|><|assistant|>",
     "<|user|>Hi<|end|><|assistant|>Hello.<|end|></s>"},
    {"gemma3", "<s><start_of_turn>user\nYou are terse.\n\nHi<end_of_turn>\n<start_of_turn>model\n<think>hmm</think>Hello.<end_of_turn>\n<start_of_turn>user\nBye?<end_of_turn>\n<start_of_turn>model\n",
     "<s><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n"},
    {"mistral-v3-tekken", "<s>[INST]Hi[/INST]<think>hmm</think>Hello.</s>[INST]You are terse.\n\nBye?[/INST]",
     "<s>[INST]Hi[/INST]Hello.</s>"},
    {"mistral-v3", "<s>[INST] Hi[/INST] <think>hmm</think>Hello.</s>[INST] You are terse.\n\nBye?[/INST]",
     "<s>[INST] Hi[/INST] Hello.</s>"},
    {"llama3", "<s><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n<think>hmm</think>Hello.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nBye?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
     "<s><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"},
    {"glm4", "[gMASK]<sop><|system|>\nYou are terse.<|user|>\nHi<|assistant|>\n<think>hmm</think>Hello.<|user|>\nBye?<|assistant|>",
     "[gMASK]<sop><|user|>\nHi<|assistant|>\nHello."},
    {"llama2", "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi [/INST] <think>hmm</think>Hello. </s><s>[INST] Bye? [/INST]",
     "<s>[INST] Hi [/INST] Hello. </s>"},
    {"phi4", "<|im_start|>system<|im_sep|>You are terse.<|im_end|><|im_start|>user<|im_sep|>Hi<|im_end|><|im_start|>assistant<|im_sep|><think>hmm</think>Hello.<|im_end|><|im_start|>user<|im_sep|>Bye?<|im_end|><|im_start|>assistant<|im_sep|>",
     "<|im_start|>user<|im_sep|>Hi<|im_end|><|im_start|>assistant<|im_sep|>Hello.<|im_end|>"},
    {"harmony", "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2024-06\nCurrent date: 2025-01-15\n\nReasoning: medium\n\n# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|><|start|>developer<|message|># Instructions\n\nYou are terse.\n\n<|end|><|start|>user<|message|>Hi<|end|><|start|>assistant<|channel|>final<|message|><think>hmm</think>Hello.<|end|><|start|>user<|message|>Bye?<|end|><|start|>assistant",
     "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2024-06\nCurrent date: 2025-01-15\n\nReasoning: medium\n\n# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|><|start|>user<|message|>Hi<|end|><|start|>assistant<|channel|>final<|message|>Hello.<|return|>"},
    {"glm4.5", "[gMASK]<sop><|system|>\nYou are terse.<|user|>Hi<|assistant|>\n<think></think>\nHello.<|user|>Bye?<|assistant|>",
     "[gMASK]<sop><|user|>Hi<|assistant|>\n<think></think>\nHello."},
    {"chatml", "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>hmm</think>Hello.<|im_end|>\n<|im_start|>user\nBye?<|im_end|>\n<|im_start|>assistant\n",
     "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n"},
};

class AFamilyByName : public ::testing::TestWithParam<Rendering> {};

TEST_P(AFamilyByName, RendersAConversationAsItsOriginalTemplate) {
  const Template t = Template::named(GetParam().family);
  EXPECT_EQ(t.name(), GetParam().family);
  EXPECT_EQ(t.render(kConversation, at_fixed_date(true)).text(), GetParam().conversation);
}

TEST_P(AFamilyByName, RendersAClosedChatAsItsOriginalTemplate) {
  const Template t = Template::named(GetParam().family);
  EXPECT_EQ(t.render(kClosedChat, at_fixed_date(false)).text(), GetParam().closed_chat);
}

INSTANTIATE_TEST_SUITE_P(EachFamily, AFamilyByName, ::testing::ValuesIn(kRenderings),
                         [](const ::testing::TestParamInfo<Rendering>& info) {
                           std::string name = info.param.family;
                           for (char& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

// Parts of each family's template that recognition keys on (abridged; the
// real templates hold much more).
struct Recognition {
  const char* family;
  const char* jinja;
};

const Recognition kRecognitions[] = {
    {"harmony", "{{- \"<|start|>system<|message|>\" }}{{- \"<|channel|>final<|message|>\" }}"},
    {"deepseek-r1", "{{bos_token}}{{'<｜User｜>' + message['content']}}{{'<｜Assistant｜><think>\\n'}}"},
    {"glm4.5", "[gMASK]<sop>{%- if m.role == 'user' -%}<|user|>{{ '\\n<think></think>' }}"},
    {"glm4", "[gMASK]<sop>{% for item in messages %}<|{{ item['role'] }}|>\n{{ item['content'] }}{% endfor %}"
             "{% if add_generation_prompt %}<|assistant|>{% endif %}"},
    {"gemma3", "{%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}{{ '<start_of_turn>' + role }}"},
    {"gemma", "{{ raise_exception('System role not supported') }}{{ '<start_of_turn>' + role + '\\n' }}"},
    {"phi3", "{{'<|user|>\\n' + message['content'] + '<|end|>\\n'}}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}"
             "{% else %}{{ eos_token }}{% endif %}"},
    {"phi4-mini", "{{- '<|system|>' + system_message -}}{{- '<|end|>' -}}{{- '<|' + message['role'] + '|>' -}}"
                  "{{- '<|assistant|>' -}}"},
    {"llama3.1", "{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}{{- \"Cutting Knowledge Date: December 2023\\n\" }}"},
    {"llama3", "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + "
               "message['content'] | trim + '<|eot_id|>' %}"},
    {"llama2", "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% set c = '<<SYS>>\\n' %}"},
    {"mistral-v1", "{{- ' [INST] ' + message['content'] + ' [/INST]' }}"},
    {"mistral-v3", "{{- \"[AVAILABLE_TOOLS] [\" }}{{- \"[INST] \" + message[\"content\"] + \"[/INST]\" }}"},
    {"mistral-v3-tekken", "{{- \"[AVAILABLE_TOOLS][\" }}{{- \"[INST]\" + message[\"content\"] + \"[/INST]\" }}"},
    {"phi4", "{{'<|im_start|>user<|im_sep|>' + message['content'] + '<|im_end|>'}}"},
    {"qwen3", "{%- set ns = namespace(last_query_index=0) %}{%- if message.reasoning_content is defined %}"
              "{{- '<|im_start|>' + message.role + '\\n<think>\\n' }}"},
    {"chatml", "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"},
};

class ATemplateText : public ::testing::TestWithParam<Recognition> {};

TEST_P(ATemplateText, IsRecognisedAsItsFamily) {
  EXPECT_EQ(Template::recognise(GetParam().jinja).name(), GetParam().family);
}

INSTANTIATE_TEST_SUITE_P(EachFamily, ATemplateText, ::testing::ValuesIn(kRecognitions),
                         [](const ::testing::TestParamInfo<Recognition>& info) {
                           std::string name = info.param.family;
                           for (char& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

TEST(TheFixtureTemplates, AreRecognisedAsTheirFamilies) {
  const std::pair<const char*, const char*> files[] = {{"qwen2.5.jinja", "chatml"},
                                                       {"llama-3.1.jinja", "llama3.1"},
                                                       {"mistral-v1.jinja", "mistral-v1"},
                                                       {"gemma-2.jinja", "gemma"},
                                                       {"phi-3.5.jinja", "phi3"}};
  for (auto [file, family] : files) {
    const auto text = [&] {
      std::ifstream in(test::fixture(std::string("chat/") + file));
      return std::string(std::istreambuf_iterator<char>(in), {});
    }();
    EXPECT_EQ(Template::recognise(text).name(), family) << file;
  }
}

TEST(ADefaultSystemMessage, IsReadFromAChatMLTemplate) {
  const auto file = gguf::File::open(test::fixture("vocab/qwen2.gguf"));
  const Template t = model_template(*file, "qwen2", "");
  EXPECT_EQ(t.name(), "chatml");
  EXPECT_EQ(t.render({{"user", "Hi"}}, at_fixed_date(true)).text(),
            "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ALlama32Template, PrintsTodaysDate) {
  const Template t = Template::recognise(
      "{%- set date_string = strftime_now(\"%d %b %Y\") %}{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}"
      "{{- \"Cutting Knowledge Date: December 2023\\n\" }}");
  EXPECT_NE(t.render({{"user", "Hi"}}, at_fixed_date(true)).text().find("Today Date: 15 Jan 2025\n"), std::string::npos);
}

TEST(AThinkingChatMLTemplateOfNoKnownFamily, IsNotTakenForPlainChatML) {
  // QwQ opens every answer with <think>: rendering it as plain ChatML would be wrong.
  EXPECT_THROW(Template::recognise("{{ '<|im_start|>assistant\\n<think>\\n' }}"), Error);
}

TEST(AnUnknownTemplate, IsAnErrorQuotingItsStart) {
  try {
    Template::recognise("{% for m in messages %}### {{ m['role'] }}: {{ m['content'] }}{% endfor %}");
    FAIL() << "recognised";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("'{% for m in messages %}###"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("chatml"), std::string::npos) << e.what();
  }
}

TEST(AModelWithoutATemplate, IsAnErrorNamingTheModelAndTheOption) {
  const auto file = gguf::File::open(test::fixture("models/llama-spm-q4_k_m.gguf"));
  try {
    model_template(*file, "tiny-llama", "");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model 'tiny-llama' has no chat template"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("template option"), std::string::npos) << e.what();
  }
  EXPECT_EQ(model_template(*file, "tiny-llama", "llama2").name(), "llama2");
}

TEST(AnUnknownFamilyName, IsAnErrorListingTheFamilies) {
  try {
    Template::named("vicuna");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'vicuna' is not a chat template family"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("harmony"), std::string::npos);
  }
}

TEST(Rendering, RefusesNoMessagesAndUnknownRoles) {
  const Template t = Template::named("chatml");
  EXPECT_THROW(t.render({}, at_fixed_date(true)), Error);
  EXPECT_THROW(t.render({{"tool", "x"}}, at_fixed_date(true)), Error);
  EXPECT_THROW(t.render({{"User", "x"}}, at_fixed_date(true)), Error);
}

TEST(Rendering, RefusesWhatTheOriginalTemplatesRaiseOn) {
  EXPECT_THROW(Template::named("gemma").render({{"system", "s"}, {"user", "u"}}, at_fixed_date(true)), Error);
  EXPECT_THROW(Template::named("gemma3").render({{"user", "u"}, {"user", "u"}}, at_fixed_date(true)), Error);
  EXPECT_THROW(Template::named("mistral-v1").render({{"assistant", "a"}}, at_fixed_date(true)), Error);
  EXPECT_THROW(Template::named("mistral-v3").render({{"user", "u"}, {"system", "s"}}, at_fixed_date(true)), Error);
  EXPECT_THROW(Template::named("harmony").render({{"user", "u"}, {"assistant", "<|channel|>final<|message|>x"}},
                                                 at_fixed_date(true)),
               Error);
}

TEST(Rendering, StripsUnicodeWhitespaceAsPythonDoes) {
  // Python's str.strip() takes U+00A0, U+3000 and U+2028 for whitespace too.
  EXPECT_EQ(Template::named("gemma").render({{"user", "\u00a0 hi\u3000\u2028"}}, at_fixed_date(false)).text(),
            "<s><start_of_turn>user\nhi<end_of_turn>\n");
}

}  // namespace
}  // namespace halo::chat

namespace halo::chat {
namespace {

TEST(AModelsHugeTemplate, IsRefusedWithoutBeingRead) {
  test::TempDir dir;
  std::string huge(2 << 20, ' ');
  huge += "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}";
  test::copy_gguf(test::fixture("vocab/qwen2.gguf"), dir.file("huge.gguf"), huge);
  const auto file = gguf::File::open(dir.file("huge.gguf"));
  try {
    model_template(*file, "huge", "");
    FAIL() << "a 2 MiB template was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("more than any family's"), std::string::npos) << e.what();
  }
  EXPECT_EQ(model_template(*file, "huge", "chatml").name(), "chatml");
}

}  // namespace
}  // namespace halo::chat

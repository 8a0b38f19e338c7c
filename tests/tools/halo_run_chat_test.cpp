// halo-run's chat modes, run as a program: --render-chat prints exactly the
// prompt the model sees (the model's template, --chat-template FILE or
// --template NAME), --chat answers one turn, and every mistake is one error
// line.
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "tests/chat/model_copy.h"
#include "tests/fixtures.h"
#include "tests/temp_dir.h"
#include "tests/tools/run_process.h"

namespace halo::test {
namespace {

ProcessResult halo_run(const std::vector<std::string>& args) {
  const char* p = std::getenv("HALO_RUN");
  return run_process(p ? p : "", args);
}

class HaloRunChat : public ::testing::Test {
 protected:
  std::string messages(const nlohmann::json& list) {
    const std::string path = dir_.file("messages" + std::to_string(++n_files_) + ".json");
    write_file(path, list.dump());
    return path;
  }
  void expect_error(const ProcessResult& r, const std::string& part) {
    ASSERT_TRUE(r.exited) << "signal " << r.signal;
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(r.err.rfind("halo-run: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(part), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }

  TempDir dir_;
  int n_files_ = 0;
  const nlohmann::json hello_ = {{{"role", "user"}, {"content", "Hello!"}}};
};

TEST_F(HaloRunChat, RendersWithTheModelsOwnTemplateExactly) {
  const ProcessResult r = halo_run({"-m", fixture("vocab/qwen2.gguf"), "--render-chat", messages(hello_)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n"
                   "<|im_start|>assistant\n");
}

TEST_F(HaloRunChat, RendersWithAGivenTemplateFileAndWithoutTheGenerationPrompt) {
  const ProcessResult r = halo_run({"-m", fixture("models/llama3-bpe-q4_k_m.gguf"), "--render-chat", messages(hello_),
                                    "--chat-template", fixture("chat/llama-3.1.jinja"), "--no-generation-prompt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December "
                   "2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello!"
                   "<|eot_id|>");
}

TEST_F(HaloRunChat, RendersWithANamedFamily) {
  const ProcessResult r =
      halo_run({"-m", fixture("vocab/llama-spm.gguf"), "--render-chat", messages(hello_), "--template", "mistral-v1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<s> [INST] Hello! [/INST]");
}

TEST_F(HaloRunChat, NamesTheModelWithoutATemplate) {
  expect_error(halo_run({"-m", fixture("models/llama-spm-q4_k_m.gguf"), "--render-chat", messages(hello_)}),
               "model 'tiny-llama-seed1' has no chat template");
}

TEST_F(HaloRunChat, RefusesWhatTheTemplateRefuses) {
  const nlohmann::json with_system = {{{"role", "system"}, {"content", "s"}}, {{"role", "user"}, {"content", "u"}}};
  expect_error(halo_run({"-m", fixture("vocab/llama-spm.gguf"), "--render-chat", messages(with_system),
                         "--chat-template", fixture("chat/gemma-2.jinja")}),
               "no system role");
}

TEST_F(HaloRunChat, RejectsBadMessageFiles) {
  const std::string model = fixture("vocab/qwen2.gguf");
  expect_error(halo_run({"-m", model, "--render-chat", messages({{"role", "user"}})}), "list of");
  expect_error(halo_run({"-m", model, "--render-chat", messages(nlohmann::json::array({{{"role", "user"}}}))}),
               "message 0");
  expect_error(halo_run({"-m", model, "--render-chat", messages({{{"role", "user"}, {"content", 3}}})}),
               "must be strings");
  expect_error(halo_run({"-m", model, "--render-chat", messages({{{"role", "robot"}, {"content", "x"}}})}),
               "role must be system, user or assistant");
  expect_error(halo_run({"-m", model, "--render-chat", messages(nlohmann::json::array())}), "at least one message");
  write_file(dir_.file("broken.json"), "[{\"role\": ");
  expect_error(halo_run({"-m", model, "--render-chat", dir_.file("broken.json")}), "not JSON");
  expect_error(halo_run({"-m", model, "--render-chat", dir_.file("absent.json")}), "cannot read");
  expect_error(halo_run({"-m", model, "--render-chat", messages(hello_), "--template", "vicuna"}),
               "'vicuna' is not a chat template family");
  write_file(dir_.file("odd.jinja"), "{{ messages }}");
  expect_error(halo_run({"-m", model, "--render-chat", messages(hello_), "--chat-template", dir_.file("odd.jinja")}),
               "is of no family");
}

TEST_F(HaloRunChat, AnswersOneChatTurn) {
  copy_gguf(fixture("models/llama3-bpe-q4_k_m.gguf"), dir_.file("chat.gguf"),
            "{% for message in messages %}{% set content = '<|start_header_id|>' + message['role'] + "
            "'<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
            "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
            "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}");
  const ProcessResult r = halo_run({"-m", dir_.file("chat.gguf"), "--chat", "-p", "Hello!", "--system", "Be brief.",
                                    "-n", "8", "--temp", "0", "--threads", "2", "--backend", "cpu"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The prompt is the Llama 3 rendering of the system message and the question.
  EXPECT_NE(r.err.find("prompt: 20 tokens"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("generation: "), std::string::npos) << r.err;
}

}  // namespace
}  // namespace halo::test

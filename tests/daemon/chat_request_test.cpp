// The checks of a Chat call's messages and template option, without a bus.
#include "daemon/chat_request.h"

#include <gtest/gtest.h>

#include "daemon/errors.h"

namespace halod {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const sdbus::Error& e) {
    return e.getName() + ": " + e.getMessage();
  }
  return "";
}

TEST(ChatMessageChecks, AcceptTheThreeRolesUpToTheLimits) {
  ChatMessages many(kMaxChatMessages, {"user", "x"});
  many[0] = {"system", "s"};
  many[1] = {"assistant", "a"};
  EXPECT_EQ(checked_messages(many, kMaxChatMessages).size(), kMaxChatMessages);
}

TEST(ChatMessageChecks, RefuseTextThatIsNotUtf8NamingTheMessage) {
  const std::string e = error_of([] { checked_messages({{"user", "ok"}, {"user", "bad \xC3("}}, 1 << 20); });
  EXPECT_NE(e.find(errors::kInvalidArgument), std::string::npos) << e;
  EXPECT_NE(e.find("Message 1"), std::string::npos) << e;
}

TEST(ChatMessageChecks, RefuseRolesWithoutEchoingWhatIsNotText) {
  const std::string e = error_of([] { checked_messages({{"\xFF\xFE", "x"}}, 1 << 20); });
  EXPECT_NE(e.find("role must be system, user or assistant; got '...'"), std::string::npos) << e;
}

TEST(ChatMessageChecks, CountTheTextOfAllMessagesAgainstTheLimit) {
  EXPECT_EQ(checked_messages({{"user", "12345"}, {"user", "67890"}}, 10).size(), 2u);
  EXPECT_NE(error_of([] { checked_messages({{"user", "12345"}, {"user", "678901"}}, 10); }).find("max_prompt_bytes"),
            std::string::npos);
}

TEST(ChatMessageChecks, RefuseNoneAndTooMany) {
  EXPECT_NE(error_of([] { checked_messages({}, 10); }).find("at least one"), std::string::npos);
  EXPECT_NE(error_of([] { checked_messages(ChatMessages(kMaxChatMessages + 1, {"user", ""}), 1 << 20); })
                .find("at most 1024"),
            std::string::npos);
}

TEST(TheTemplateOption, IsTakenOutOfTheGenerateOptions) {
  VariantMap options = {{"template", sdbus::Variant(std::string("chatml"))}, {"seed", sdbus::Variant(uint64_t{1})}};
  EXPECT_EQ(take_template_option(options), "chatml");
  EXPECT_EQ(options.size(), 1u);
  EXPECT_EQ(take_template_option(options), "");
  VariantMap wrong = {{"template", sdbus::Variant(true)}};
  EXPECT_NE(error_of([&] { take_template_option(wrong); }).find("type 's', not 'b'"), std::string::npos);
}

}  // namespace
}  // namespace halod

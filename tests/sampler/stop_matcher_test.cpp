// StopMatcher: stop strings found across pieces, held-back text released.
#include "engine/session/stop_matcher.h"

#include <gtest/gtest.h>

namespace halo {
namespace {

TEST(StopMatcher, PassesTextThroughWithoutStops) {
  StopMatcher m({});
  auto r = m.push("hello");
  EXPECT_EQ(r.text, "hello");
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, StopsBeforeAStopStringInOnePiece) {
  StopMatcher m({"END"});
  auto r = m.push("abcENDxyz");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "abc");
}

TEST(StopMatcher, HoldsBackAPossibleStartAndStopsWhenItCompletes) {
  StopMatcher m({"</s>"});
  auto r1 = m.push("text<");
  EXPECT_EQ(r1.text, "text");
  EXPECT_FALSE(r1.stopped);
  auto r2 = m.push("/");
  EXPECT_EQ(r2.text, "");
  auto r3 = m.push("s>more");
  EXPECT_TRUE(r3.stopped);
  EXPECT_EQ(r3.text, "");
}

TEST(StopMatcher, ReleasesHeldTextWhenItTurnsOutNotToBeAStop) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.push("a ST").text, "a ");
  auto r = m.push("ART");
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(r.text, "START");
}

TEST(StopMatcher, FlushReturnsWhatIsHeld) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.push("xSTO").text, "x");
  EXPECT_EQ(m.flush(), "STO");
}

TEST(StopMatcher, EarliestOfSeveralStopsWins) {
  StopMatcher m({"world", "lo w"});
  auto r = m.push("hello world");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "hel");
}

TEST(StopMatcher, EmptyStopStringsAreIgnored) {
  StopMatcher m({"", "zz"});
  auto r = m.push("abc");
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(r.text, "abc");
}

}  // namespace
}  // namespace halo

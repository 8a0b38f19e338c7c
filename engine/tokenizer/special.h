// Splitting text around special tokens before the encoders see it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "engine/tokenizer/vocab.h"

namespace halo::tok {

// A piece of the input: either raw text [offset, offset + length) or a token.
struct Fragment {
  int32_t token = -1;  // -1: raw text
  size_t offset = 0;
  size_t length = 0;
};

// Tokens matched in text before encoding: control, unknown and user-defined
// ones, longest first.
std::vector<int32_t> special_tokens_by_length(const Vocab& vocab);

// Cuts text at every occurrence of a special token. Longer tokens are cut
// out first, everywhere, then shorter ones in what remains (the reference's
// order). Without parse_special only user-defined tokens are cut out:
// control and unknown tokens stay plain text.
std::vector<Fragment> split_special(std::string_view text, const Vocab& vocab,
                                    const std::vector<int32_t>& specials, bool parse_special);

}  // namespace halo::tok

#include "engine/tokenizer/special.h"

#include <algorithm>

namespace halo::tok {
namespace {

bool is_special_attr(TokenAttr a) {
  return a == TokenAttr::Control || a == TokenAttr::Unknown || a == TokenAttr::UserDefined;
}

// Replaces one raw fragment by the pieces around each occurrence of `special`.
void cut_fragment(std::string_view text, const Fragment& raw, int32_t id, std::string_view special,
                  std::vector<Fragment>& out) {
  size_t begin = raw.offset;
  const size_t end = raw.offset + raw.length;
  while (begin < end) {
    const size_t match = text.substr(0, end).find(special, begin);
    if (match == std::string_view::npos) break;
    if (match > begin) out.push_back({-1, begin, match - begin});
    out.push_back({id, match, special.size()});
    begin = match + special.size();
  }
  if (begin < end) out.push_back({-1, begin, end - begin});
}

}  // namespace

std::vector<int32_t> special_tokens_by_length(const Vocab& vocab) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i < vocab.attrs.size(); ++i) {
    if (is_special_attr(vocab.attrs[i])) ids.push_back(static_cast<int32_t>(i));
  }
  // Longest first; equal lengths by id so the order is reproducible.
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) {
    return vocab.texts[a].size() > vocab.texts[b].size();
  });
  return ids;
}

std::vector<Fragment> split_special(std::string_view text, const Vocab& vocab,
                                    const std::vector<int32_t>& specials, bool parse_special) {
  std::vector<Fragment> fragments;
  if (text.empty()) return fragments;
  fragments.push_back({-1, 0, text.size()});
  std::vector<Fragment> next;
  for (const int32_t id : specials) {
    const TokenAttr attr = vocab.attrs[id];
    if (!parse_special && attr != TokenAttr::UserDefined) continue;
    const std::string_view special = vocab.texts[id];
    // Cheap pre-check: most special tokens do not occur in a given text.
    if (text.find(special) == std::string_view::npos) continue;
    next.clear();
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        next.push_back(f);
      } else {
        cut_fragment(text, f, id, special, next);
      }
    }
    fragments.swap(next);
  }
  return fragments;
}

}  // namespace halo::tok

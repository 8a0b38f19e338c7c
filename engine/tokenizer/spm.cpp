#include "engine/tokenizer/spm.h"

#include <cstdio>
#include <queue>
#include <string>

#include "engine/error.h"
#include "engine/tokenizer/utf8.h"

namespace halo::tok {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581

// A run of the input, linked to its neighbours; merged-away symbols have n = 0.
struct Symbol {
  const char* text;
  size_t n;
  int prev;
  int next;
};

struct Bigram {
  int left;
  int right;
  float score;
  size_t size;  // bytes of both symbols when queued, to spot stale entries
};

// Highest score first; on ties the leftmost pair.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

std::string escape_spaces(std::string_view text, bool prefix_space) {
  std::string out;
  out.reserve(text.size() + 8);
  if (prefix_space) out.append(kSpaceMark);
  for (const char c : text) {
    if (c == ' ') {
      out.append(kSpaceMark);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

SpmEncoder::SpmEncoder(const Vocab& vocab, const TokenIndex& index) : vocab_(vocab), index_(index) {
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    int32_t id = index_.find(name);
    if (id < 0) {
      const char raw = static_cast<char>(b);
      id = index_.find(std::string_view(&raw, 1));
    }
    byte_tokens_[b] = id;
  }
}

void SpmEncoder::encode(std::string_view text, bool prefix_space, std::vector<int32_t>& out) const {
  const std::string escaped = escape_spaces(text, prefix_space);
  merge_and_emit(escaped, out);
}

void SpmEncoder::emit_bytes(std::string_view piece, std::vector<int32_t>& out) const {
  for (const char c : piece) {
    int32_t id = byte_tokens_[static_cast<uint8_t>(c)];
    if (id < 0) id = vocab_.unk;
    if (id < 0) {
      throw Error(ErrorKind::InvalidArgument,
                  "the text has characters this vocabulary cannot represent (no byte or unknown token)");
    }
    out.push_back(id);
  }
}

void SpmEncoder::merge_and_emit(std::string_view s, std::vector<int32_t>& out) const {
  if (s.empty()) return;
  // One symbol per character (length from the lead byte, not validated).
  std::vector<Symbol> symbols;
  symbols.reserve(s.size());
  for (size_t offs = 0; offs < s.size();) {
    const size_t n = std::min(utf8_lead_length(static_cast<uint8_t>(s[offs])), s.size() - offs);
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({s.data() + offs, n, index - 1, offs + n == s.size() ? -1 : index + 1});
    offs += n;
  }

  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  // Queues the pair if the two symbols together spell a token.
  const auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::string_view joined(symbols[left].text, symbols[left].n + symbols[right].n);
    const int32_t id = index_.find(joined);
    if (id < 0) return;
    queue.push({left, right, vocab_.scores[id], joined.size()});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& left = symbols[b.left];
    Symbol& right = symbols[b.right];
    if (left.n == 0 || right.n == 0 || left.n + right.n != b.size) continue;  // stale
    left.n += right.n;
    right.n = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = b.left;
    try_add(left.prev, b.left);
    try_add(b.left, left.next);
  }

  for (int i = 0; i != -1; i = symbols[i].next) {
    const std::string_view piece(symbols[i].text, symbols[i].n);
    const int32_t id = index_.find(piece);
    if (id >= 0) {
      out.push_back(id);
    } else {
      emit_bytes(piece, out);  // only single characters can be unknown: merges always form tokens
    }
  }
}

}  // namespace halo::tok

#include "engine/tokenizer/bpe.h"

#include <queue>

#include "engine/tokenizer/utf8.h"

namespace halo::tok {
namespace {

bool stands_for_itself(int b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

// A run of the word's bytes [begin, begin + n) standing for token `id`.
struct Symbol {
  size_t begin;
  size_t n;
  int32_t id;  // -1: no token spells these bytes
  int prev;
  int next;
};

struct Bigram {
  int left;
  int right;
  int32_t rank;
  int32_t left_id;   // ids when queued, to spot pairs that changed since
  int32_t right_id;
  int32_t result;    // id of the merged token
};

// Lowest rank first; on ties the leftmost pair.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

const std::array<std::string, 256>& byte_to_unicode() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    uint32_t next_extra = 0x100;
    for (int b = 0; b < 256; ++b) {
      append_utf8(t[b], stands_for_itself(b) ? static_cast<uint32_t>(b) : next_extra++);
    }
    return t;
  }();
  return table;
}

int unicode_to_byte(uint32_t cp) {
  if (cp < 0x100) return stands_for_itself(static_cast<int>(cp)) ? static_cast<int>(cp) : -1;
  // U+0100 + k stands for the k-th byte that does not stand for itself.
  uint32_t k = cp - 0x100;
  for (int b = 0; b < 256; ++b) {
    if (stands_for_itself(b)) continue;
    if (k == 0) return b;
    --k;
  }
  return -1;
}

std::string decode_byte_level(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Char c = decode_utf8(text, pos);
    const int b = c.valid ? unicode_to_byte(c.cp) : -1;
    if (b >= 0) {
      out.push_back(static_cast<char>(b));
    } else {
      out.append(text.substr(pos, c.len));
    }
    pos += c.len;
  }
  return out;
}

BpeEncoder::BpeEncoder(const Vocab& vocab, const TokenIndex& index)
    : index_(index), pre_(std::make_unique<Pretokenizer>(vocab.pre)), merges_(vocab.merges.size()) {
  const auto& stand_ins = byte_to_unicode();
  for (int b = 0; b < 256; ++b) byte_tokens_[b] = index_.find(stand_ins[b]);

  std::string joined;
  for (size_t rank = 0; rank < vocab.merges.size(); ++rank) {
    const std::string_view merge = vocab.merges[rank];
    const size_t space = merge_split(merge);
    if (space == std::string_view::npos) continue;  // read_vocab rejects these
    const std::string_view left = merge.substr(0, space);
    const std::string_view right = merge.substr(space + 1);
    const int32_t left_id = index_.find(left);
    const int32_t right_id = index_.find(right);
    // A merge of parts that are not tokens can never apply to token ids.
    if (left_id < 0 || right_id < 0) continue;
    joined.assign(left).append(right);
    // A repeated pair keeps its first (best) rank.
    merges_.insert_first(left_id, right_id, {static_cast<int32_t>(rank), index_.find(joined)});
  }
}

void BpeEncoder::encode(std::string_view text, std::vector<int32_t>& out) const {
  const std::string clean = sanitize_utf8(text);
  for (const std::string_view word : pre_->split(clean)) encode_word(word, out);
}

void BpeEncoder::emit_byte_tokens(std::string_view bytes, std::vector<int32_t>& out) const {
  for (const char c : bytes) {
    const int32_t id = byte_tokens_[static_cast<uint8_t>(c)];
    if (id >= 0) out.push_back(id);  // a vocabulary without this byte cannot spell it
  }
}

void BpeEncoder::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (pre_->ignore_merges()) {
    std::string stand_in;
    for (const char c : word) stand_in += byte_to_unicode()[static_cast<uint8_t>(c)];
    if (const int32_t id = index_.find(stand_in); id >= 0) {
      out.push_back(id);
      return;
    }
  }

  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  for (size_t i = 0; i < word.size(); ++i) {
    const int index = static_cast<int>(i);
    symbols.push_back({i, 1, byte_tokens_[static_cast<uint8_t>(word[i])], index - 1,
                       i + 1 == word.size() ? -1 : index + 1});
  }

  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  const auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const int32_t l = symbols[left].id;
    const int32_t r = symbols[right].id;
    if (l < 0 || r < 0) return;
    const MergeTable::Merge* m = merges_.find(l, r);
    if (!m) return;
    queue.push({left, right, m->rank, l, r, m->result});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& left = symbols[b.left];
    Symbol& right = symbols[b.right];
    if (left.n == 0 || right.n == 0 || left.id != b.left_id || right.id != b.right_id) continue;
    left.n += right.n;
    left.id = b.result;
    right.n = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = b.left;
    try_add(left.prev, b.left);
    try_add(b.left, left.next);
  }

  for (int i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) {
    const Symbol& s = symbols[i];
    if (s.id >= 0) {
      out.push_back(s.id);
    } else {
      emit_byte_tokens(word.substr(s.begin, s.n), out);
    }
  }
}

}  // namespace halo::tok

#include "engine/tokenizer/pretokenize.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "engine/error.h"

namespace halo::tok {
namespace {

// Llama 3's split (tokenizer.json), with the case-insensitive contractions
// spelled out so no inline flags are needed.
constexpr const char* kLlama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
    "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

// Qwen2: as Llama 3, but every digit is a word of its own.
constexpr const char* kQwen2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
    "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

// GPT-2's original split.
constexpr const char* kGpt2 =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// The reference implementation's "default": punctuation and symbols first,
// then GPT-2 on what is left, then digit runs, then groups of three digits.
constexpr const char* kDefault[] = {
    "[\\p{P}\\$\\+<=>\\^`\\|]",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    "\\p{N}+",
    "[0-9][0-9][0-9]",
};

}  // namespace

// One compiled pattern (JIT-compiled where PCRE2 supports it). The compiled
// code is read-only, so one Regex serves concurrent callers; match data is
// per call.
class Regex {
 public:
  explicit Regex(const char* pattern) {
    int error = 0;
    PCRE2_SIZE error_offset = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern), PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_UCP, &error, &error_offset, nullptr);
    if (!code_) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof message);
      throw Error(ErrorKind::BadModel, "pre-tokenizer regex does not compile at " +
                                           std::to_string(error_offset) + ": " +
                                           reinterpret_cast<const char*>(message));
    }
    pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);  // falls back to the interpreter on failure
  }
  ~Regex() { pcre2_code_free(code_); }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Appends the words of `word` to out: matches and the gaps between them.
  // The word is the whole subject, so lookaheads end at its end.
  void split(std::string_view word, pcre2_match_data* match, std::vector<std::string_view>& out) const {
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(word.data());
    size_t pos = 0;
    size_t gap_start = 0;
    while (pos < word.size()) {
      // The text was validated once before splitting; skip re-checking it.
      const int rc = pcre2_match(code_, subject, word.size(), pos, PCRE2_NO_UTF_CHECK, match, nullptr);
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc < 0) throw Error(ErrorKind::InvalidArgument, "pre-tokenizer failed on the text (PCRE2 error " + std::to_string(rc) + ")");
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(match);
      const size_t begin = ov[0];
      const size_t end = ov[1];
      if (begin > gap_start) out.push_back(word.substr(gap_start, begin - gap_start));
      if (end > begin) {
        out.push_back(word.substr(begin, end - begin));
        pos = end;
      } else {
        // An empty match cannot split anything; step over one character.
        pos = end + 1;
        while (pos < word.size() && (static_cast<uint8_t>(word[pos]) & 0xC0) == 0x80) ++pos;
        continue;
      }
      gap_start = end;
    }
    if (gap_start < word.size()) out.push_back(word.substr(gap_start));
  }

  const pcre2_code* code() const { return code_; }

 private:
  pcre2_code* code_ = nullptr;
};

Pretokenizer::Pretokenizer(std::string_view pre) {
  if (pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "falcon3") {
    regexes_.push_back(std::make_unique<Regex>(kLlama3));
    ignore_merges_ = true;
  } else if (pre == "qwen2" || pre == "deepseek-r1-qwen") {
    regexes_.push_back(std::make_unique<Regex>(kQwen2));
  } else if (pre == "gpt-2" || pre == "gpt2") {
    regexes_.push_back(std::make_unique<Regex>(kGpt2));
  } else if (pre == "default") {
    for (const char* p : kDefault) regexes_.push_back(std::make_unique<Regex>(p));
  } else {
    throw Error(ErrorKind::BadModel, "vocabulary: pre-tokenizer '" + std::string(pre) +
                                         "' (tokenizer.ggml.pre) is not supported; supported: " +
                                         supported_names());
  }
}

Pretokenizer::~Pretokenizer() = default;

std::string Pretokenizer::supported_names() {
  return "llama3, llama-v3, llama-bpe, falcon3, qwen2, deepseek-r1-qwen, gpt-2, gpt2, default";
}

std::vector<std::string_view> Pretokenizer::split(std::string_view text) const {
  std::vector<std::string_view> words;
  if (text.empty()) return words;
  words.push_back(text);
  std::vector<std::string_view> next;
  for (const auto& regex : regexes_) {
    pcre2_match_data* match = pcre2_match_data_create_from_pattern(regex->code(), nullptr);
    if (!match) throw Error(ErrorKind::NoMemory, "pre-tokenizer: out of memory");
    next.clear();
    try {
      for (const std::string_view word : words) regex->split(word, match, next);
    } catch (...) {
      pcre2_match_data_free(match);
      throw;
    }
    pcre2_match_data_free(match);
    words.swap(next);
  }
  return words;
}

}  // namespace halo::tok

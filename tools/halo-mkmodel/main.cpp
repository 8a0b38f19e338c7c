// halo-mkmodel OUT.gguf --shape NAME --type TYPE [--vocab VOCAB.gguf|builtin] [--seed N]
// Writes a random-weight llama model for benchmarks, demos and tests.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "engine/error.h"
#include "tools/halo-mkmodel/mkmodel.h"
#include "tools/halo-mkmodel/model_spec.h"

int main(int argc, char** argv) {
  halo::mkmodel::Options o;
  o.threads = std::max(1u, std::thread::hardware_concurrency());
  CLI::App app{"Writes a random-weight llama-architecture GGUF model of a named shape and type."};
  app.add_option("output", o.output, "GGUF file to write")->required();
  app.add_option("--shape", o.shape, "model shape: " + halo::mkmodel::shape_names())->required();
  app.add_option("--type", o.type, "weight type: " + halo::mkmodel::weight_type_names() +
                                       " (the _m and iq4_xs types mix in more bits as llama-quantize does; "
                                       "mxfp4 puts the FFN in MXFP4 and the rest in q8_0)")->required();
  o.vocab = halo::mkmodel::kBuiltinVocab;
  app.add_option("--vocab", o.vocab, "GGUF file whose tokenizer.* metadata is copied, or \"builtin\" (default): "
                                    "a small SentencePiece vocabulary built into the tool");
  app.add_option("--seed", o.seed, "random seed; the same seed gives the same file");
  app.add_option("--threads", o.threads, "threads generating and quantizing weights")->check(CLI::Range(1u, 1024u));
  CLI11_PARSE(app, argc, argv);

  const auto start = std::chrono::steady_clock::now();
  try {
    const auto s = halo::mkmodel::write_model(o);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "halo-mkmodel: wrote %s: %s %s, %llu tensors, %.1fM parameters, %.1f MiB of weights, vocabulary %llu, seed %llu, %.1f s\n",
                 o.output.c_str(), o.shape.c_str(), o.type.c_str(), static_cast<unsigned long long>(s.n_tensors),
                 static_cast<double>(s.n_params) / 1e6, static_cast<double>(s.tensor_bytes) / (1 << 20),
                 static_cast<unsigned long long>(s.n_vocab), static_cast<unsigned long long>(o.seed), seconds);
    return 0;
  } catch (const halo::Error& e) {
    std::fprintf(stderr, "halo-mkmodel: %s\n", e.what());
    return 1;
  }
}

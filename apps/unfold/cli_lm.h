// lm_cli.h: pieces shared by the `unfold lm` commands (cli_lm*.cpp): model/tokenizer lookup and corpus
// tokenisation. Internal to the lm module.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "unfold/lm/model.h"
#include "unfold/lm/tokenizer.h"

namespace unfold {

int cmd_lm_train(int argc, char** argv);

// --dtype of the commands that only run the forward pass (generate, eval, cache); see load_inference_model.
inline const OptSpec kDtypeOpt = {"dtype", "fp32",
                                  "fp32 | bf16: products on bf16 copies of the weights (logits move by ~1%). What it "
                                  "does by CPU: AVX512-BF16 (AMD Zen 4, Intel Sapphire Rapids) every product, ~2x "
                                  "fp32 on batches; AVX2 only (AMD Zen 2/3, Intel Haswell to Ice Lake) a bf16 kernel "
                                  "for forwards of up to 16 rows (token by token: ~1.5-2x and more) and the fp32 "
                                  "products on larger ones (batches, long prompts: fp32 speed and fp32's results); "
                                  "other CPUs a portable bf16 kernel token by token, fp32 on batches"};
// The model of an inference command: --dtype is checked first (before the slow load), then --model is
// loaded and set to that dtype, with a note on stderr saying what bf16 runs on when the CPU has no
// AVX512-BF16.
void load_inference_model(LmModel& m, const Args& a);
int cmd_lm_cache(int argc, char** argv);

// The tokenizer for a model: `explicit_path` if given, else the model folder's tokenizer/ (written by
// `unfold lm train`); fails with a hint to pass --tokenizer.
std::unique_ptr<Tokenizer> open_model_tokenizer(const std::string& model_path, const std::string& explicit_path);

// Copies a tokenizer (file or folder with vocab.json/merges.txt/tokenizer.json) into <dir>/tokenizer/.
void copy_tokenizer(const std::string& src, const std::string& dir);

// "kjv" / "gcide" (when no such file exists): writes that corpus (lm/corpus.h) to <out_dir>/<name>.txt once
// and returns its path; anything else is returned unchanged.
std::string resolve_corpus(const std::string& corpus, const std::string& out_dir, const Context& ctx);

// Tokens of a UTF-8 text file (no BOS), cached beside it by corpus_load_tokens. Logs the token count.
std::vector<int32_t> tokenize_file(const Tokenizer& tok, const std::string& path, const Context& ctx);

}  // namespace unfold

// cli_lm.cpp: the `unfold lm` command group - generate, info, eval (train and cache live in
// cli_lm_train.cpp / cli_lm_cache.cpp). A thin layer over checkpoint.h, generate.h and lm_train.h.
#include <cmath>
#include <cstdio>

#include "args.h"
#include "cli_features.h"
#include "cli_lm.h"
#include "cli_tokenizer.h"
#include "commands.h"
#include "unfold/core/error.h"
#include "unfold/core/progress.h"
#include "unfold/io/fileio.h"
#include "unfold/lm/checkpoint.h"
#include "unfold/lm/corpus.h"
#include "unfold/lm/generate.h"
#include "unfold/lm/lm_train.h"

namespace unfold {

void load_inference_model(LmModel& m, const Args& a) {
    const LmDtype dtype = parse_lm_dtype(a.str("dtype"), "--dtype");
    lm_load(m, a.str("model"));
    lm_set_dtype(m, dtype);
    if (dtype != LmDtype::BF16) return;
    const KernelLevel level = kernel_level();
    if (level == KernelLevel::PORTABLE)
        a.ctx.info("note: kernel level portable (no AVX2 here, or UNFOLD_KERNELS); bf16 runs a portable kernel "
                   "token by token and the fp32 products on batches of more than %d rows",
                   (int)kGemmBf16SmallRows);
    else if (level != KernelLevel::AVX512_BF16)
        a.ctx.info("note: kernel level %s, no AVX512-BF16: bf16 runs an AVX2 kernel token by token (faster than "
                   "fp32) and the fp32 products on batches of more than %d rows (fp32 speed, fp32's results)",
                   kernel_level_name(level), (int)kGemmBf16SmallRows);
}

std::unique_ptr<Tokenizer> open_model_tokenizer(const std::string& model_path, const std::string& explicit_path) {
    if (!explicit_path.empty()) return load_tokenizer(explicit_path);
    std::string td = is_directory(model_path) ? path_join(model_path, "tokenizer") : "";
    if (!td.empty() && is_directory(td)) {
        if (file_exists(path_join(td, "vocab.json")) || file_exists(path_join(td, "tokenizer.json")))
            return load_tokenizer(td);
        for (const auto& n : list_dir(td))
            if (n.size() > 4 && n.compare(n.size() - 4, 4, ".bin") == 0) return load_tokenizer(path_join(td, n));
    }
    fail("%s: no tokenizer found beside the model; pass --tokenizer PATH", model_path.c_str());
}

void copy_tokenizer(const std::string& src, const std::string& dir) {
    std::string td = path_join(dir, "tokenizer");
    make_dirs(td);
    if (is_directory(src)) {
        for (const char* f : {"vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json"})
            if (file_exists(path_join(src, f))) write_file_atomic(path_join(td, f), read_file(path_join(src, f)));
    } else {
        size_t k = src.find_last_of('/');
        write_file_atomic(path_join(td, k == std::string::npos ? src : src.substr(k + 1)), read_file(src));
    }
}

std::string resolve_corpus(const std::string& corpus, const std::string& out_dir, const Context& ctx) {
    if ((corpus == "kjv" || corpus == "gcide") && !file_exists(corpus)) {
        std::string p = path_join(out_dir, corpus + ".txt");
        if (!file_exists(p)) {
            make_dirs(out_dir);
            size_t n = corpus_write_source(corpus, p);
            ctx.info("wrote the %s corpus (%zu bytes) to %s", corpus.c_str(), n, p.c_str());
        }
        return p;
    }
    return corpus;
}

std::vector<int32_t> tokenize_file(const Tokenizer& tok, const std::string& path, const Context& ctx) {
    std::vector<int32_t> ids = corpus_load_tokens(path, tok, true, ctx);  // cached beside the text
    ctx.info("%s: %zu tokens (%s, vocab %d)", path.c_str(), ids.size(), tok.name().c_str(), tok.vocab_size());
    return ids;
}

static int cmd_generate(int argc, char** argv) {
    static const CommandSpec spec = {
        "unfold lm generate",
        "Generate text from a model (greedy by default), streaming tokens to stdout; optionally with an SAE at a "
        "hook whose latents are steered, scaled or ablated.",
        "unfold lm generate --model models/stories260K/stories260K.bin \\\n"
        "    --tokenizer models/stories260K/tok512.bin --steps 200\n"
        "unfold lm generate --model runs/lm1 --prompt \"And God said\" --temperature 0.8 --top-k 40\n"
        "unfold lm generate --model runs/lm1 --sae runs/sae1 --steer 123=8 --compare",
        [] {
            std::vector<OptSpec> o = {
                {"model", "", "model: llama2.c .bin, .safetensors, or a folder with config.json + model.safetensors"},
                {"tokenizer", "", "tokenizer file/folder (default: the model folder's tokenizer/)"},
                {"prompt", "", "text to continue (BOS is prepended when the tokenizer has one)"},
                {"steps", "200", "number of new tokens"},
                {"temperature", "0", "0 = greedy (argmax); > 0 samples from softmax(logits / temperature)"},
                {"top-k", "0", "sample only among the k most likely tokens (0 = all)"},
                {"ids", "", "print the generated token ids instead of the text", true},
                kDtypeOpt};
            for (auto& x : sae_edit_opts()) o.push_back(x);
            o.push_back({"compare", "", "also print the continuation without the SAE edits (needs --sae)", true});
            return o;
        }()};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    GenerateOptions o;  // the sampling flags are checked before the model loads
    o.max_new_tokens = a.i64("steps");
    UNFOLD_CHECK(o.max_new_tokens >= 0, "--steps must be >= 0");
    const double temperature = a.f64("temperature");
    UNFOLD_CHECK(temperature >= 0 && temperature <= 1e30,
                 "unfold lm generate: --temperature: %g is out of range (0 = greedy, > 0 samples)", temperature);
    o.temperature = (float)temperature;
    o.top_k = a.i64("top-k");
    UNFOLD_CHECK(o.top_k >= 0, "unfold lm generate: --top-k: %lld is out of range (0 = all tokens, k > 0 the k most "
                 "likely)", (long long)o.top_k);
    o.seed = a.seed();
    LmModel m;
    load_inference_model(m, a);
    auto tok = open_model_tokenizer(a.str("model"), a.str("tokenizer"));
    UNFOLD_CHECK(tok->vocab_size() <= m.cfg.vocab, "tokenizer has %d tokens but the model's vocabulary is %lld",
                 tok->vocab_size(), (long long)m.cfg.vocab);
    auto sae = sae_at_hook_from_args(a, m, true);
    UNFOLD_CHECK(!a.flag("compare") || sae->active(), "--compare needs --sae RUN and an edit");
    std::vector<int32_t> prompt;
    if (tok->bos_id() >= 0) prompt.push_back(tok->bos_id());
    auto enc = tok->encode(a.str("prompt"));
    prompt.insert(prompt.end(), enc.begin(), enc.end());
    UNFOLD_CHECK(!prompt.empty(), "the tokenizer has no BOS token: give a --prompt");
    // llama2.c convention: BOS delimits documents, so a sampled BOS ends the text; GPT-2: <|endoftext|>
    o.stop_id = tok->bos_id() >= 0 && tok->bos_id() != tok->eos_id() ? tok->bos_id() : tok->eos_id();
    const bool ids_only = a.flag("ids");
    const std::string prompt_text = a.str("prompt");
    auto run = [&](const HookSet* hooks) {
        o.hooks = hooks;
        if (!ids_only) std::fwrite(prompt_text.data(), 1, prompt_text.size(), stdout);
        auto out = lm_generate(m, prompt, o, [&](int32_t prev, int32_t id) {
            if (ids_only) return;
            std::string piece = tok->decode_piece(prev, id);
            std::fwrite(piece.data(), 1, piece.size(), stdout);
            std::fflush(stdout);
        });
        if (ids_only)
            for (size_t i = 0; i < out.size(); i++) std::printf("%d%c", out[i], i + 1 < out.size() ? ' ' : '\n');
        else
            std::printf("\n");
    };
    if (a.flag("compare")) {
        std::printf("--- without edits\n");
        run(nullptr);
        std::printf("--- %s at %s (%s)\n", describe_sae_edits(sae->splice.edits).c_str(), sae->hook.c_str(),
                    sae->splice.keep_error ? "reconstruction + error term" : "SAE reconstruction only");
    } else if (sae->active()) {
        a.ctx.info("SAE %s at %s: %s%s", sae->path.c_str(), sae->hook.c_str(),
                   describe_sae_edits(sae->splice.edits).c_str(), sae->splice.keep_error ? "" : " (spliced)");
    }
    run(sae->active() ? &sae->hooks : nullptr);
    return 0;
}

static int cmd_info(int argc, char** argv) {
    static const CommandSpec spec = {"unfold lm info",
                                     "Print a model's configuration, parameter count and tensors.",
                                     "unfold lm info --model runs/lm1",
                                     {{"model", "", "model file or folder"},
                                      {"tensors", "", "list every tensor with its shape", true}}};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    LmModel m;
    lm_load(m, a.str("model"));
    std::printf("%s\nparameters: %zu\nhooks (%zu points): %s\n", m.cfg.describe().c_str(), m.params.size(),
                hook_names(m.cfg).size(), hook_names_summary(m.cfg).c_str());
    if (a.flag("tensors"))
        for (const auto& v : m.params.views) std::printf("  %-48s %s\n", v.name.c_str(), shape_str(v.shape).c_str());
    return 0;
}

static int cmd_eval(int argc, char** argv) {
    static const CommandSpec spec = {
        "unfold lm eval",
        "Mean next-token loss of a model on a text file, beside the corpus's unigram entropy; optionally with an "
        "SAE at a hook (edited latents, or --splice: the reconstruction alone).",
        "unfold lm eval --model runs/lm1 --corpus val.txt --context 128\n"
        "unfold lm eval --model runs/lm1 --corpus val.txt --sae runs/sae1 --splice",
        [] {
            std::vector<OptSpec> o = {{"model", "", "model file or folder"},
                                      {"tokenizer", "", "tokenizer (default: the model folder's tokenizer/)"},
                                      {"corpus", "", "UTF-8 text file"},
                                      {"context", "128", "window length"},
                                      {"windows", "256", "number of evenly spaced windows"},
                                      {"batch", "16", "windows per forward pass"},
                                      kDtypeOpt};
            for (auto& x : sae_edit_opts()) o.push_back(x);
            return o;
        }()};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    LmModel m;
    load_inference_model(m, a);
    auto tok = open_model_tokenizer(a.str("model"), a.str("tokenizer"));
    auto sae = sae_at_hook_from_args(a, m, true);
    auto ids = tokenize_file(*tok, a.str("corpus"), a.ctx);
    int64_t T = std::min<int64_t>(a.i64("context"), m.cfg.n_ctx);
    double loss = lm_eval_loss(m, ids, T, a.i64("windows"), a.i64("batch"), sae->active() ? &sae->hooks : nullptr);
    double h = unigram_entropy(ids, m.cfg.vocab);
    std::printf("loss %.4f nats/token (perplexity %.2f); unigram entropy %.4f; %lld windows of %lld tokens", loss,
                std::exp(loss), h, (long long)a.i64("windows"), (long long)T);
    if (sae->active())
        std::printf("; SAE at %s: %s%s", sae->hook.c_str(), describe_sae_edits(sae->splice.edits).c_str(),
                    sae->splice.keep_error ? "" : ", spliced (no error term)");
    std::printf("\n");
    return 0;
}

int cmd_lm(int argc, char** argv) {
    return dispatch("unfold lm", "transformers (GPT-2 / Llama): generate, train on text, cache activations",
                    {{"generate", "generate text from a model (KV cache; greedy or sampled)", cmd_generate},
                     {"train", "train a GPT-2 or Llama model on a text corpus", cmd_lm_train},
                     {"cache", "write one hook's activations over a corpus as shards for SAEs", cmd_lm_cache},
                     {"eval", "loss of a model on a text file", cmd_eval},
                     {"info", "configuration and tensors of a model", cmd_info},
                     {"corpus", "write a plain-text corpus from installed packages (kjv, gcide)", cmd_lm_corpus},
                     {"bpe", "train a byte-level BPE tokenizer (vocab.json + merges.txt)", cmd_lm_bpe},
                     {"tokenize", "encode a text, or corpus statistics (tokens, unigram entropy)", cmd_lm_tokenize}},
                    argc, argv);
}

}  // namespace unfold

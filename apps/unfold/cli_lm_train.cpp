// cli_lm_train.cpp: `unfold lm train` - tokenise a text corpus (given tokenizer, or a byte-level BPE trained on
// the corpus), split it into train / validation, train a model of the given shape, save it in HF layout with
// its tokenizer, and print the validation loss beside the unigram entropy plus a few samples.
#include <cstdio>

#include "args.h"
#include "cli_lm.h"
#include "unfold/core/error.h"
#include "unfold/core/progress.h"
#include "unfold/io/fileio.h"
#include "unfold/lm/bpe_train.h"
#include "unfold/lm/checkpoint.h"
#include "unfold/lm/corpus.h"
#include "unfold/lm/generate.h"
#include "unfold/lm/lm_train.h"

namespace unfold {

static LmConfig config_from_flags(const Args& a, int64_t vocab) {
    LmConfig c;
    if (a.given("config")) {
        Json j = json_load(a.str("config"));
        j["vocab_size"] = (int64_t)vocab;  // the tokenizer decides
        return lm_config_from_hf_json(j, a.str("config"));
    }
    std::string arch = a.str("arch");
    UNFOLD_CHECK(arch == "gpt2" || arch == "llama", "--arch must be gpt2 or llama, got '%s'", arch.c_str());
    c.arch = arch == "gpt2" ? LmArch::GPT2 : LmArch::LLAMA;
    c.vocab = vocab;
    c.d_model = a.i64("d-model");
    c.n_layers = a.i64("layers");
    c.n_heads = a.i64("heads");
    c.n_kv_heads = a.i64("kv-heads") > 0 ? a.i64("kv-heads") : c.n_heads;
    c.d_mlp = a.i64("d-mlp");
    c.n_ctx = a.i64("context");
    c.tied = c.arch == LmArch::GPT2 || !a.flag("untied");
    c.validate("flags");
    return c;
}

int cmd_lm_train(int argc, char** argv) {
    static const CommandSpec spec = {
        "unfold lm train",
        "Train a GPT-2 or Llama model on a text corpus (AdamW, warm-up + cosine, clipping, exact resume).",
        "unfold lm train --corpus kjv.txt --out runs/lm1 --bpe-vocab 2048 --d-model 128 --layers 1 --heads 4 \\\n"
        "    --d-mlp 512 --context 128 --steps 2000\n"
        "unfold lm train --corpus kjv.txt --out runs/lm1 --resume          (continue an interrupted run)",
        {{"corpus", "", "UTF-8 text file, or kjv / gcide (written once to <out>/<name>.txt from the Debian packages)"},
         {"out", "", "output folder (model.safetensors, config.json, tokenizer/, train_state, metrics.jsonl)"},
         {"tokenizer", "", "tokenizer to use (file or folder); default: train a byte-level BPE on the corpus"},
         {"bpe-vocab", "2048", "vocabulary size of the BPE trained when no --tokenizer is given"},
         {"config", "", "model shape as a Hugging Face config.json (overrides the shape flags)"},
         {"arch", "gpt2", "gpt2 | llama"},
         {"d-model", "128", "residual width"},
         {"layers", "1", "number of blocks"},
         {"heads", "4", "attention heads"},
         {"kv-heads", "0", "key/value heads (llama; 0 = heads)"},
         {"d-mlp", "512", "MLP width"},
         {"untied", "", "llama: separate lm_head", true},
         {"context", "128", "training window (and model context)"},
         {"steps", "2000", "optimizer steps"},
         {"batch", "16", "windows per step"},
         {"lr", "1e-3", "peak learning rate"},
         {"warmup", "100", "linear warm-up steps"},
         {"min-lr-frac", "0.1", "final learning rate as a fraction of --lr (cosine)"},
         {"wd", "0.1", "AdamW weight decay (matrices and embeddings)"},
         {"clip", "1.0", "gradient-norm clipping (0 = off)"},
         {"val-frac", "0.05", "last fraction of the corpus tokens held out for validation"},
         {"eval-every", "200", "validation every N steps"},
         {"eval-windows", "64", "validation windows"},
         {"ckpt-every", "500", "checkpoint every N steps"},
         {"stop-after", "0", "checkpoint and stop after N steps (continue with --resume)"},
         {"samples", "3", "samples printed (and saved to samples.txt) at the end"},
         {"resume", "", "continue from <out>/train_state.safetensors", true}}};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    const std::string out = a.str("out");
    const std::string corpus = resolve_corpus(a.str("corpus"), out, a.ctx);
    const bool resume = a.flag("resume");
    make_dirs(out);
    std::unique_ptr<Tokenizer> tok;
    if (resume) {
        tok = open_model_tokenizer(out, "");
    } else if (a.given("tokenizer")) {
        tok = load_tokenizer(a.str("tokenizer"));
        copy_tokenizer(a.str("tokenizer"), out);
    } else {
        BpeTrainConfig bc;
        bc.vocab_size = a.i32("bpe-vocab", 1);
        bc.ctx = a.ctx;
        BpeTrainStats bs;
        tok = bpe_train_save(read_file(corpus), bc, path_join(out, "tokenizer"), &bs);
        a.ctx.info("trained a byte-level BPE: %d merges, vocab %d, in %.1f s -> %s", bs.n_merges,
                     tok->vocab_size(), bs.seconds, path_join(out, "tokenizer").c_str());
    }
    std::vector<int32_t> ids = tokenize_file(*tok, corpus, a.ctx);
    double vf = a.f64("val-frac");
    UNFOLD_CHECK(vf > 0 && vf < 0.5, "--val-frac must be in (0, 0.5), got %g", vf);
    TokenSplit split = corpus_split(ids, vf);
    const std::vector<int32_t>& train = split.train;
    const std::vector<int32_t>& val = split.val;
    LmModel m;
    if (resume) {
        LmConfig c = lm_config_from_hf_json(json_load(path_join(out, "config.json")), path_join(out, "config.json"));
        lm_build(m, c);  // weights come from train_state.safetensors
    } else {
        LmConfig c = config_from_flags(a, tok->vocab_size());
        c.bos_id = tok->bos_id();
        c.eos_id = tok->eos_id();
        lm_build(m, c);
        lm_init_random(m, a.seed());
    }
    LmTrainConfig tc;
    tc.steps = a.i64("steps");
    tc.batch = a.i64("batch");
    tc.context = a.i64("context");
    if (tc.context > m.cfg.n_ctx) tc.context = m.cfg.n_ctx;
    tc.lr = (float)a.f64("lr");
    tc.warmup = a.i64("warmup");
    tc.min_lr_frac = (float)a.f64("min-lr-frac");
    tc.weight_decay = (float)a.f64("wd");
    tc.grad_clip = (float)a.f64("clip");
    tc.eval_every = a.i64("eval-every");
    tc.eval_windows = a.i64("eval-windows");
    tc.ckpt_every = a.i64("ckpt-every");
    tc.stop_after = a.i64("stop-after");
    tc.seed = a.seed();
    tc.ctx = a.ctx;
    a.ctx.info("%s; %zu parameters; %zu train / %zu validation tokens", m.cfg.describe().c_str(), m.params.size(),
                 train.size(), val.size());
    LmTrainResult r = lm_train(m, train, val, tc, out, resume);
    double h = unigram_entropy(val, m.cfg.vocab);
    double hx = unigram_cross_entropy_nats(train, val, (int32_t)m.cfg.vocab);
    Json s = Json::object();
    s["steps"] = r.steps_done;
    s["train_loss"] = r.last_train_loss;
    s["val_loss"] = r.val_loss;
    s["val_unigram_entropy"] = h;
    s["val_unigram_cross_entropy"] = hx;  // loss of the best context-free model fitted on train
    s["tokens_per_s"] = r.tokens_per_s;
    s["seconds"] = r.seconds;
    s["parameters"] = (int64_t)m.params.size();
    s["train_tokens"] = (int64_t)train.size();
    s["val_tokens"] = (int64_t)val.size();
    json_save(path_join(out, "summary.json"), s);
    std::printf("steps %lld  train loss %.4f  val loss %.4f  (val unigram entropy %.4f, unigram cross-entropy from "
                "train %.4f)  %.0f tokens/s  %.1f s\n",
                (long long)r.steps_done, r.last_train_loss, r.val_loss, h, hx, r.tokens_per_s, r.seconds);
    std::string samples;
    for (int64_t k = 0; k < a.i64("samples") && r.steps_done == tc.steps; k++) {
        std::vector<int32_t> prompt(val.begin() + (long)(k * val.size() / 4), val.begin() + (long)(k * val.size() / 4) + 4);
        GenerateOptions go;
        go.max_new_tokens = std::min<int64_t>(80, m.cfg.n_ctx - 4);
        go.temperature = 0.8f;
        go.top_k = 40;
        go.seed = a.seed() + (uint64_t)k;
        auto gen = lm_generate(m, prompt, go);
        std::vector<int32_t> all = prompt;
        all.insert(all.end(), gen.begin(), gen.end());
        samples += "--- sample " + std::to_string(k + 1) + " ---\n" + tok->decode(all) + "\n";
    }
    if (!samples.empty()) {
        write_file_atomic(path_join(out, "samples.txt"), samples);
        std::printf("%s", samples.c_str());
    }
    std::printf("wrote %s/{model.safetensors, config.json, tokenizer/, train_state.safetensors, metrics.jsonl, "
                "summary.json}\n",
                out.c_str());
    return 0;
}

}  // namespace unfold

// cli_lm_cache.cpp: `unfold lm cache` - one hook's activations over a corpus, as a shard folder that
// `unfold sae train --input DIR` reads (see cache.h for the row layout).
#include <cstdio>

#include "args.h"
#include "cli_lm.h"
#include "unfold/core/error.h"
#include "unfold/core/progress.h"
#include "unfold/io/fileio.h"
#include "unfold/lm/cache.h"
#include "unfold/lm/checkpoint.h"

namespace unfold {

int cmd_lm_cache(int argc, char** argv) {
    static const CommandSpec spec = {
        "unfold lm cache",
        "Cache one hook's activations over a corpus as shards (token id, position, sequence per row).",
        "unfold lm cache --model runs/lm1 --hook blocks.0.mlp.hook_post --corpus kjv.txt --tokens 2000000 \\\n"
        "    --context 128 --out acts/\n"
        "unfold lm cache ... --out acts/ --resume           (continue an interrupted run)\n"
        "hooks (TransformerLens names; `unfold lm info --model M` lists a model's): hook_embed, hook_pos_embed,\n"
        "  blocks.{i}.{hook_resid_pre, hook_attn_in, hook_q_input, hook_k_input, hook_v_input, ln1.hook_scale,\n"
        "  ln1.hook_normalized, attn.hook_q, attn.hook_k, attn.hook_v, attn.hook_rot_q, attn.hook_rot_k (Llama),\n"
        "  attn.hook_z, attn.hook_result, hook_attn_out, hook_resid_mid, hook_mlp_in, ln2.hook_scale,\n"
        "  ln2.hook_normalized, mlp.hook_pre, mlp.hook_pre_linear (Llama), mlp.hook_post, hook_mlp_out,\n"
        "  hook_resid_post}, ln_final.hook_scale, ln_final.hook_normalized, unembed.hook_in, unembed.hook_out.\n"
        "  Per-head hooks give heads x size per row (hook_z: n_heads * d_head); attn.hook_attn_scores and\n"
        "  attn.hook_pattern are not rows.",
        {{"model", "", "model file or folder"},
         {"tokenizer", "", "tokenizer (default: the model folder's tokenizer/)"},
         {"hook", "blocks.0.mlp.hook_post", "hook point (TransformerLens name, listed above)"},
         {"corpus", "", "UTF-8 text file"},
         {"tokens", "1000000", "rows to write (one per token position)"},
         {"context", "128", "window length"},
         {"batch", "16", "windows per forward pass"},
         {"rows-per-shard", "65536", "rows per shard file"},
         {"f16", "", "store activations as float16", true},
         {"no-bos", "", "do not prepend BOS to each window", true},
         {"out", "", "output folder"},
         {"resume", "", "continue an interrupted folder", true},
         kDtypeOpt}};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    LmModel m;
    load_inference_model(m, a);
    auto tok = open_model_tokenizer(a.str("model"), a.str("tokenizer"));
    LmCacheOptions o;
    o.hook = a.str("hook");
    hook_row_dim(m.cfg, o.hook);  // validate before the (slow) tokenisation
    auto ids = tokenize_file(*tok, resolve_corpus(a.str("corpus"), a.str("out") + ".corpus", a.ctx), a.ctx);
    o.context = a.i64("context");
    o.max_rows = a.i64("tokens");
    o.batch = a.i64("batch");
    o.rows_per_shard = a.i64("rows-per-shard");
    o.f16 = a.flag("f16");
    o.resume = a.flag("resume");
    o.bos_id = a.flag("no-bos") ? -1 : tok->bos_id();
    o.ctx = a.ctx;
    o.meta = Json::object();
    o.meta["model_path"] = a.str("model");
    o.meta["corpus"] = a.str("corpus");
    o.meta["tokenizer"] = tok->name();
    LmCacheResult r = lm_cache_activations(m, ids, o, a.str("out"));
    std::printf("%s: %lld rows x %lld (%s), %lld new in %.1f s -> %s/index.json\n", o.hook.c_str(),
                (long long)r.rows, (long long)r.d, o.f16 ? "f16" : "f32", (long long)r.new_rows, r.seconds,
                a.str("out").c_str());
    return 0;
}

}  // namespace unfold

// sae_io.cpp: SAELens folder layout (write + read) and the imports of sparsify folders and Gemma Scope
// params.npz files, so dictionaries trained elsewhere can be evaluated and used here.
//
// SAELens (v6): cfg.json {architecture, d_in, d_sae, dtype, device, apply_b_dec_to_input,
//   normalize_activations, reshape_activations, [k, rescale_acts_by_decoder_norm], metadata{...}}
//   sae_weights.safetensors: W_enc [d_in, d_sae], b_enc [d_sae], W_dec [d_sae, d_in], b_dec [d_in],
//   threshold [d_sae] (jumprelu); gated (SAELens GatedSAE): W_enc, b_gate [d_sae], r_mag [d_sae],
//   b_mag [d_sae], W_dec, b_dec and no b_enc; sparsity.safetensors: sparsity [d_sae] = log10 firing frequency.
//   Training-format BatchTopK (BatchTopKTrainingSAE.save_model): architecture "batchtopk", k (may be
//   fractional), W_enc, b_enc, W_dec, b_dec and the scalar topk_threshold (F64); loaded as BATCHTOPK (training:
//   top k*B of the batch; inference: pre > topk_threshold, SAELens' JumpReLU inference form).
// sparsify: cfg.json {k, num_latents, d_in, ...}; sae.safetensors: encoder.weight [F, d], encoder.bias [F],
//   W_dec [F, d], b_dec [d]  (pre = (x - b_dec) encoder.weight^T + bias, top-k).
// Gemma Scope: params.npz with W_enc [d, F], W_dec [F, d], b_enc [F], b_dec [d], threshold [F];
//   JumpReLU, no b_dec subtraction.
#include <cmath>
#include <cstring>

#include "unfold/core/error.h"
#include "unfold/io/fileio.h"
#include "unfold/io/json.h"
#include "unfold/io/safetensors.h"
#include "unfold/io/zip.h"
#include "unfold/sae/sae.h"

namespace unfold {

void sae_save_saelens(const std::string& dir, const SaeLensExport& e) {
    UNFOLD_CHECK(e.d_in > 0 && e.d_sae > 0, "sae_save_saelens: d_in and d_sae must be > 0");
    UNFOLD_CHECK(e.W_enc && e.b_enc && e.W_dec && e.b_dec, "sae_save_saelens: W_enc, b_enc, W_dec, b_dec needed");
    UNFOLD_CHECK(e.architecture == "standard" || e.architecture == "topk" || e.architecture == "jumprelu" ||
                     e.architecture == "gated",
                 "sae_save_saelens: architecture '%s' (expected standard|topk|jumprelu|gated)", e.architecture.c_str());
    UNFOLD_CHECK(e.architecture != "jumprelu" || e.threshold, "sae_save_saelens: jumprelu needs a threshold");
    UNFOLD_CHECK(e.architecture != "gated" || (e.r_mag && e.b_mag), "sae_save_saelens: gated needs r_mag and b_mag");
    UNFOLD_CHECK(e.architecture != "topk" || e.k > 0, "sae_save_saelens: topk needs k > 0");
    make_dirs(dir);
    const int64_t d = e.d_in, F = e.d_sae;
    const bool gated = e.architecture == "gated";
    std::vector<StWriteTensor> t = {{"W_enc", {d, F}, e.W_enc}, {gated ? "b_gate" : "b_enc", {F}, e.b_enc},
                                    {"W_dec", {F, d}, e.W_dec}, {"b_dec", {d}, e.b_dec}};
    if (e.architecture == "jumprelu") t.push_back({"threshold", {F}, e.threshold});
    if (gated) {
        t.push_back({"r_mag", {F}, e.r_mag});
        t.push_back({"b_mag", {F}, e.b_mag});
    }
    safetensors_write(path_join(dir, "sae_weights.safetensors"), t, {{"format", "pt"}});
    if (e.sparsity) safetensors_write(path_join(dir, "sparsity.safetensors"), {{"sparsity", {F}, e.sparsity}});

    Json cfg = Json::object();
    cfg["architecture"] = e.architecture;
    cfg["d_in"] = d;
    cfg["d_sae"] = F;
    cfg["dtype"] = "float32";
    cfg["device"] = "cpu";
    cfg["apply_b_dec_to_input"] = e.apply_b_dec_to_input;
    cfg["normalize_activations"] = "none";
    cfg["reshape_activations"] = "none";
    if (e.architecture == "topk") {
        cfg["k"] = e.k;
        cfg["rescale_acts_by_decoder_norm"] = false;
    }
    Json md = Json::object();
    md["sae_lens_version"] = "6.18.0";
    md["sae_lens_training_version"] = "6.18.0";
    md["model_name"] = "unknown";
    md["hook_name"] = "unknown";
    md["hook_head_index"] = Json();
    md["prepend_bos"] = true;
    md["context_size"] = Json();
    md["dataset_path"] = Json();
    md["model_from_pretrained_kwargs"] = Json::object();
    md["seqpos_slice"] = Json::array();
    md["seqpos_slice"].push(Json());
    if (e.metadata.is_obj())
        for (const auto& kv : e.metadata.obj) md[kv.first] = kv.second;
    cfg["metadata"] = md;
    json_save(path_join(dir, "cfg.json"), cfg);
}

void sae_save(const std::string& dir, const Sae& sae, const float* sparsity, const Json& metadata) {
    SaeLensExport e;
    const int64_t F = sae.F();
    std::vector<float> th;
    switch (sae.cfg.arch) {
        case SaeArch::STANDARD: e.architecture = "standard"; break;
        case SaeArch::TOPK:
            e.architecture = "topk";
            e.k = sae.cfg.k;
            break;
        case SaeArch::BATCHTOPK:  // inference = JumpReLU with one learned threshold for every latent
            e.architecture = "jumprelu";
            th.assign((size_t)F, sae.threshold);
            break;
        case SaeArch::JUMPRELU: {
            e.architecture = "jumprelu";
            th.resize((size_t)F);
            const float* lt = sae.params.get("log_threshold");
            for (int64_t i = 0; i < F; i++) th[i] = std::exp(lt[i]);
            break;
        }
        case SaeArch::GATED:
            e.architecture = "gated";
            e.r_mag = sae.params.get("r_mag");
            e.b_mag = sae.params.get("b_mag");
            break;
    }
    e.d_in = sae.d();
    e.d_sae = F;
    e.W_enc = sae.W_enc();
    e.b_enc = sae.b_enc();
    e.W_dec = sae.W_dec();
    e.b_dec = sae.b_dec();
    e.threshold = th.empty() ? nullptr : th.data();
    e.sparsity = sparsity;
    e.apply_b_dec_to_input = sae.cfg.apply_b_dec_to_input;
    e.metadata = metadata.is_obj() ? metadata : Json::object();
    e.metadata["unfold_architecture"] = sae_arch_name(sae.cfg.arch);
    if (sae.cfg.arch == SaeArch::BATCHTOPK) e.metadata["unfold_k"] = sae.cfg.k;
    sae_save_saelens(dir, e);
}

// Builds an Sae with the given tensors (W_enc given as [d, F]; b_enc is b_gate for GATED).
static Sae make_sae(SaeArch arch, int64_t d, int64_t F, int k, bool apply_bdec, const float* W_enc,
                    const float* b_enc, const float* W_dec, const float* b_dec, const float* threshold,
                    const std::string& src, const float* r_mag = nullptr, const float* b_mag = nullptr) {
    SaeConfig c;
    c.arch = arch;
    c.d_in = d;
    c.d_sae = F;
    c.k = k > 0 ? k : 1;
    c.apply_b_dec_to_input = apply_bdec;
    Sae s = sae_init(c, 0, 1.0f);
    std::memcpy(s.W_enc(), W_enc, sizeof(float) * (size_t)(d * F));
    std::memcpy(s.b_enc(), b_enc, sizeof(float) * (size_t)F);
    std::memcpy(s.W_dec(), W_dec, sizeof(float) * (size_t)(d * F));
    std::memcpy(s.b_dec(), b_dec, sizeof(float) * (size_t)d);
    if (arch == SaeArch::JUMPRELU) {
        float* lt = s.params.get("log_threshold");
        for (int64_t i = 0; i < F; i++) lt[i] = std::log(std::max(threshold[i], 1e-30f));
    }
    if (arch == SaeArch::GATED) {
        std::memcpy(s.params.get("r_mag"), r_mag, sizeof(float) * (size_t)F);
        std::memcpy(s.params.get("b_mag"), b_mag, sizeof(float) * (size_t)F);
    }
    return s;
}

// An SAE's k from cfg.json: an integer in [1, 2^24] (a larger one would be narrowed to another number).
static int k_field(const Json& v, const std::string& ctx) {
    const int64_t k = v.as_int(ctx);
    UNFOLD_CHECK(k >= 1 && k <= (1 << 24), "%s is %lld, expected 1..16777216", ctx.c_str(), (long long)k);
    return (int)k;
}

static Sae load_saelens(const std::string& dir) {
    const std::string cp = path_join(dir, "cfg.json");
    Json cfg = json_load(cp);
    UNFOLD_CHECK(cfg.is_obj(), "%s: expected a JSON object", cp.c_str());
    std::string arch = cfg.get_str("architecture", "");
    int k = 0;
    if (arch.empty()) {  // pre-6.0 flat config
        std::string fn = cfg.get_str("activation_fn_str", "relu");
        if (fn == "topk") {
            arch = "topk";
            if (const Json* kw = cfg.find("activation_fn_kwargs"); kw && kw->find("k"))
                k = k_field(*kw->find("k"), cp + ": activation_fn_kwargs.k");
        } else {
            arch = "standard";
        }
    }
    if (arch == "topk" && k == 0) k = k_field(cfg.at("k", cp), cp + ": k");
    UNFOLD_CHECK(arch == "standard" || arch == "topk" || arch == "jumprelu" || arch == "gated" || arch == "batchtopk",
                 "%s: architecture '%s' is not supported (expected standard|topk|batchtopk|jumprelu|gated)", cp.c_str(),
                 arch.c_str());
    // SAELens' training-format BatchTopK (BatchTopKTrainingSAE.save_model): k is the mean number of latents kept
    // per row and may be fractional; unfold keeps a whole k (training only: inference uses topk_threshold)
    double k_batch = 0;
    if (arch == "batchtopk") {
        const Json& kj = cfg.at("k", cp);
        UNFOLD_CHECK(kj.is_num() && std::isfinite(kj.num) && kj.num > 0, "%s: k: expected a positive number", cp.c_str());
        k_batch = kj.num;
        k = (int)std::min<double>(std::max<double>(std::lround(k_batch), 1.0), (double)(1 << 24));
    }
    const int64_t d = cfg.at("d_in", cp).as_int(cp + ": d_in");
    const int64_t F = cfg.at("d_sae", cp).as_int(cp + ": d_sae");
    UNFOLD_CHECK(d > 0 && F > 0 && d <= (1 << 20) && F <= (1 << 24), "%s: d_in %lld / d_sae %lld out of range",
                 cp.c_str(), (long long)d, (long long)F);
    UNFOLD_CHECK(arch != "topk" || (k > 0 && k <= F), "%s: k %d must be in [1, d_sae]", cp.c_str(), k);
    const Json* na = cfg.find("normalize_activations");
    UNFOLD_CHECK(!na || na->is_null() || (na->is_str() && na->str == "none"),
                 "%s: normalize_activations '%s' is not supported (only 'none'; fold the scale into the weights)",
                 cp.c_str(), na && na->is_str() ? na->str.c_str() : "?");
    bool apply = cfg.get_bool("apply_b_dec_to_input", true);
    SafeTensorsReader r(path_join(dir, "sae_weights.safetensors"));
    const bool gated = arch == "gated";
    Tensor We = r.read_f32("W_enc", {d, F}), be = r.read_f32(gated ? "b_gate" : "b_enc", {F});
    Tensor Wd = r.read_f32("W_dec", {F, d}), bd = r.read_f32("b_dec", {d});
    Tensor th, rm, bm;
    if (arch == "jumprelu") th = r.read_f32("threshold", {F});
    float topk_threshold = 0.0f;
    if (arch == "batchtopk") {  // a scalar (float64 in SAELens): the running smallest kept activation
        Tensor t = r.read_f32("topk_threshold");
        UNFOLD_CHECK(t.numel() == 1 && std::isfinite(t[0]) && t[0] >= 0.0f,
                     "%s: tensor 'topk_threshold': expected one finite value >= 0 (found %lld values, first %g)",
                     r.path().c_str(), (long long)t.numel(), t.numel() ? (double)t[0] : 0.0);
        topk_threshold = t[0];
    }
    if (gated) {
        rm = r.read_f32("r_mag", {F});
        bm = r.read_f32("b_mag", {F});
        // exp(r_mag) scales the magnitude path: a non-finite or overflowing value would poison every code
        for (int64_t i = 0; i < F; i++)
            UNFOLD_CHECK(std::isfinite(rm[i]) && rm[i] < 80.0f && std::isfinite(bm[i]),
                         "%s: tensor 'r_mag'/'b_mag': latent %lld has r_mag %g, b_mag %g (expected finite, r_mag < 80)",
                         r.path().c_str(), (long long)i, (double)rm[i], (double)bm[i]);
    }
    if (cfg.get_bool("rescale_acts_by_decoder_norm", false)) {
        // SAELens TopK option: select and scale codes by pre_i * ||W_dec_i||, decode with codes / ||W_dec_i||.
        // Folding the norms (SAELens' fold_W_dec_norm) gives the same codes and reconstructions with unit rows.
        // BatchTopK: topk_threshold is in the same rescaled units, so it stands after the fold (SAELens'
        // save_inference_model folds the same way and keeps the threshold)
        UNFOLD_CHECK(arch == "topk" || arch == "batchtopk",
                     "%s: rescale_acts_by_decoder_norm is only defined for topk and batchtopk (architecture '%s')",
                     cp.c_str(), arch.c_str());
        for (int64_t i = 0; i < F; i++) {
            double n2 = 0;
            for (int64_t j = 0; j < d; j++) n2 += (double)Wd[i * d + j] * Wd[i * d + j];
            const float n = (float)std::sqrt(n2);
            UNFOLD_CHECK(n > 0.0f && std::isfinite(n),
                         "%s: tensor 'W_dec': row %lld has norm %g (rescale_acts_by_decoder_norm needs > 0)",
                         r.path().c_str(), (long long)i, (double)n);
            for (int64_t j = 0; j < d; j++) {
                We[j * F + i] *= n;
                Wd[i * d + j] /= n;
            }
            be[i] *= n;
        }
    }
    Json meta = Json::object();
    if (const Json* m = cfg.find("metadata"); m && m->is_obj()) meta = *m;
    for (const char* key : {"model_name", "hook_name", "hook_layer", "hook_head_index", "context_size", "prepend_bos",
                            "dataset_path"})
        if (const Json* v = cfg.find(key); v && !meta.find(key)) meta[key] = *v;
    SaeArch a = arch == "topk"        ? SaeArch::TOPK
                : arch == "batchtopk" ? SaeArch::BATCHTOPK
                : arch == "jumprelu"  ? SaeArch::JUMPRELU
                : gated              ? SaeArch::GATED
                                     : SaeArch::STANDARD;
    Sae s = make_sae(a, d, F, k, apply, We.ptr(), be.ptr(), Wd.ptr(), bd.ptr(), th.data.empty() ? nullptr : th.ptr(),
                     dir, gated ? rm.ptr() : nullptr, gated ? bm.ptr() : nullptr);
    s.metadata = meta;
    if (a == SaeArch::BATCHTOPK) {
        s.threshold = topk_threshold;
        if (k_batch != (double)k) s.metadata["saelens_k"] = k_batch;
    }
    return s;
}

SaeHookInfo sae_hook_info(const Sae& sae) {
    SaeHookInfo h;
    const Json& m = sae.metadata;
    if (!m.is_obj()) return h;
    if (const Json* v = m.find("hook_name"); v && v->is_str() && v->str != "unknown") h.hook_name = v->str;
    if (const Json* v = m.find("model_name"); v && v->is_str() && v->str != "unknown") h.model_name = v->str;
    if (const Json* v = m.find("hook_layer"); v && v->is_num()) h.hook_layer = v->as_int("cfg.json: hook_layer");
    if (const Json* v = m.find("context_size"); v && v->is_num())
        h.context_size = v->as_int("cfg.json: context_size");
    if (const Json* v = m.find("prepend_bos"); v && v->is_bool()) h.prepend_bos = v->b;
    return h;
}

Json saelens_metadata_from_cache_meta(const Json& cm) {
    Json md = Json::object();
    if (!cm.is_obj()) return md;
    const Json* hook = cm.find("hook");
    if (!hook || !hook->is_str()) return md;
    md["hook_name"] = hook->str;
    int64_t layer = -1;
    if (hook->str.rfind("blocks.", 0) == 0) {
        size_t e = hook->str.find('.', 7);
        const std::string num = hook->str.substr(7, e == std::string::npos ? std::string::npos : e - 7);
        if (!num.empty() && num.size() <= 9 && num.find_first_not_of("0123456789") == std::string::npos)
            layer = std::stoll(num);  // at most 9 digits: no out_of_range from an index.json's hook name
    }
    md["hook_layer"] = layer;
    if (const Json* c = cm.find("context"); c && c->is_num()) md["context_size"] = c->as_int("index.json: context");
    if (const Json* p = cm.find("prepend_bos"); p && p->is_bool()) md["prepend_bos"] = p->b;
    if (const Json* m = cm.find("model_path"); m && m->is_str())
        md["model_name"] = m->str;
    else if (const Json* m2 = cm.find("model"); m2 && m2->is_str())
        md["model_name"] = m2->str;
    return md;
}

static Sae load_sparsify(const std::string& dir) {
    const std::string cp = path_join(dir, "cfg.json");
    Json cfg = json_load(cp);
    UNFOLD_CHECK(cfg.is_obj(), "%s: expected a JSON object", cp.c_str());
    UNFOLD_CHECK(!cfg.get_bool("transcode", false), "%s: transcoders are not supported", cp.c_str());
    UNFOLD_CHECK(!cfg.get_bool("skip_connection", false), "%s: skip connections are not supported", cp.c_str());
    std::string act = cfg.get_str("activation", "topk");
    UNFOLD_CHECK(act == "topk", "%s: activation '%s' is not supported (expected topk)", cp.c_str(), act.c_str());
    const int k = k_field(cfg.at("k", cp), cp + ": k");
    SafeTensorsReader r(path_join(dir, "sae.safetensors"));
    const StEntry& ew = r.entry("encoder.weight");
    UNFOLD_CHECK(ew.shape.size() == 2, "%s: tensor 'encoder.weight': expected 2 dimensions, found %s",
                 r.path().c_str(), shape_str(ew.shape).c_str());
    const int64_t F = ew.shape[0], d = ew.shape[1];
    UNFOLD_CHECK(F > 0 && d > 0, "%s: tensor 'encoder.weight': empty shape %s", r.path().c_str(),
                 shape_str(ew.shape).c_str());
    if (cfg.has("d_in"))
        UNFOLD_CHECK(cfg.at("d_in", cp).as_int(cp + ": d_in") == d, "%s: d_in %lld but encoder.weight is %s",
                     cp.c_str(), (long long)cfg.at("d_in", cp).as_int(cp), shape_str(ew.shape).c_str());
    if (cfg.has("num_latents") && cfg.at("num_latents", cp).as_int(cp + ": num_latents") > 0)
        UNFOLD_CHECK(cfg.at("num_latents", cp).as_int(cp) == F, "%s: num_latents %lld but encoder.weight is %s",
                     cp.c_str(), (long long)cfg.at("num_latents", cp).as_int(cp), shape_str(ew.shape).c_str());
    UNFOLD_CHECK(k > 0 && k <= F, "%s: k %d must be in [1, %lld]", cp.c_str(), k, (long long)F);
    Tensor Wt = r.read_f32("encoder.weight", {F, d}), be = r.read_f32("encoder.bias", {F});
    Tensor Wd = r.read_f32("W_dec", {F, d}), bd = r.read_f32("b_dec", {d});
    std::vector<float> We((size_t)(d * F));
    for (int64_t i = 0; i < F; i++)
        for (int64_t j = 0; j < d; j++) We[j * F + i] = Wt[i * d + j];
    return make_sae(SaeArch::TOPK, d, F, k, true, We.data(), be.ptr(), Wd.ptr(), bd.ptr(), nullptr, dir);
}

static Sae load_gemmascope(const std::string& file) {
    NpzArchive z(file);
    Tensor We = z.read_f32("W_enc"), Wd = z.read_f32("W_dec"), be = z.read_f32("b_enc"), bd = z.read_f32("b_dec");
    Tensor th = z.read_f32("threshold");
    UNFOLD_CHECK(We.ndim() == 2, "%s: W_enc: expected 2 dimensions, found %s", file.c_str(),
                 shape_str(We.shape).c_str());
    const int64_t d = We.dim(0), F = We.dim(1);
    UNFOLD_CHECK(d > 0 && F > 0, "%s: W_enc: empty shape", file.c_str());
    auto expect = [&](const Tensor& t, const Shape& s, const char* name) {
        UNFOLD_CHECK(t.shape == s, "%s: %s: expected shape %s, found %s", file.c_str(), name, shape_str(s).c_str(),
                     shape_str(t.shape).c_str());
    };
    expect(Wd, {F, d}, "W_dec");
    expect(be, {F}, "b_enc");
    expect(bd, {d}, "b_dec");
    expect(th, {F}, "threshold");
    return make_sae(SaeArch::JUMPRELU, d, F, 0, false, We.ptr(), be.ptr(), Wd.ptr(), bd.ptr(), th.ptr(), file);
}

Sae sae_load(const std::string& path, std::string* format_out) {
    std::string fmt;
    Sae s;
    if (is_directory(path)) {
        if (file_exists(path_join(path, "sae_weights.safetensors"))) {
            fmt = "saelens";
            s = load_saelens(path);
        } else if (file_exists(path_join(path, "sae.safetensors"))) {
            fmt = "sparsify";
            s = load_sparsify(path);
        } else if (file_exists(path_join(path, "params.npz"))) {
            fmt = "gemmascope";
            s = load_gemmascope(path_join(path, "params.npz"));
        } else {
            fail("%s: no SAE found (expected sae_weights.safetensors + cfg.json (SAELens), sae.safetensors + "
                 "cfg.json (sparsify) or params.npz (Gemma Scope))",
                 path.c_str());
        }
    } else {
        UNFOLD_CHECK(file_exists(path), "%s: no such file or folder", path.c_str());
        UNFOLD_CHECK(path.size() > 4 && path.substr(path.size() - 4) == ".npz",
                     "%s: expected an SAE folder or a Gemma Scope .npz file", path.c_str());
        fmt = "gemmascope";
        s = load_gemmascope(path);
    }
    if (format_out) *format_out = fmt;
    return s;
}

}  // namespace unfold

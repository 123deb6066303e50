// py_sae.cpp: unfold.sae: load any SAE folder the CLI loads, encode (dense, or sparse as CSR / padded arrays),
// decode, evaluate and train (from an array, a path the CLI reads, or a planted spec), with the SAE's parameters
// as numpy views. Training from an array runs the same code on the same rows as `unfold sae train --input
// x.npy`: one chunk served through the same shuffle buffer, so the same seed gives the same bits.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "py_common.h"
#include "unfold/core/memory.h"
#include "unfold/data/source.h"
#include "unfold/data/source_shuffle.h"
#include "unfold/io/fileio.h"
#include "unfold/sae/sae.h"
#include "unfold/sae/sae_eval.h"
#include "unfold/sae/sae_train.h"

namespace unfold::py {

namespace {

// A float32 [rows, d] array as the one chunk of a RowStore (the memory stays the caller's: no copy).
class ArrayStore : public RowStore {
  public:
    ArrayStore(FloatIn in, std::string name) : in_(std::move(in)), name_(std::move(name)) {}
    int64_t dim() const override { return in_.shape[1]; }
    int64_t num_chunks() const override { return 1; }
    int64_t chunk_rows(int64_t) const override { return in_.shape[0]; }
    void read_rows(int64_t, int64_t r0, int64_t n, float* out) const override {
        std::memcpy(out, in_.data + r0 * dim(), (size_t)(n * dim()) * sizeof(float));
    }
    std::string describe() const override {
        return strformat("%s [%lld, %lld]", name_.c_str(), (long long)in_.shape[0], (long long)in_.shape[1]);
    }

  private:
    FloatIn in_;  // finiteness checked on the way in
    std::string name_;
};

}  // namespace

// An array [rows, d], or a path / spec the CLI's --input takes (.npy, file.safetensors:NAME, a shard folder,
// planted:...). The array must outlive the source (the FloatIn inside keeps it).
std::unique_ptr<ActivationSource> open_source_arg(pb::handle source, uint64_t seed, int64_t shuffle_buffer,
                                                  bool sequential, const std::string& tensor, std::string* name) {
    std::string n = "array";
    std::unique_ptr<ActivationSource> src;
    if (pb::isinstance<pb::str>(source) || pb::hasattr(source, "__fspath__")) {
        SourceOptions so;
        so.seed = seed;
        so.shuffle_buffer_rows = shuffle_buffer;
        so.sequential = sequential;
        so.tensor_name = tensor;
        n = pb::hasattr(source, "__fspath__") ? source.attr("__fspath__")().cast<std::string>()
                                              : source.cast<std::string>();
        src = nogil([&] { return open_source(n, so); });
    } else {
        FloatIn in = float_input(source, "source", 2);
        if (in.shape[0] < 1 || in.shape[1] < 1) value_error("argument 'source': the array is empty");
        src = std::make_unique<ShuffleSource>(std::make_unique<ArrayStore>(std::move(in), "array"), seed,
                                              shuffle_buffer, sequential);
    }
    if (name) *name = n;
    return src;
}

namespace {

struct PyCodes {
    SparseCodes c;
    int64_t d_sae = 0;
};

FloatArray dense_codes(const PyCodes& p) {
    FloatArray out = new_float_array({p.c.rows, p.d_sae});
    float* o = out.mutable_data();
    std::fill(o, o + p.c.rows * p.d_sae, 0.0f);
    for (int64_t b = 0; b < p.c.rows; b++)
        for (int64_t q = p.c.off[b]; q < p.c.off[b + 1]; q++) o[b * p.d_sae + p.c.idx[(size_t)q]] = p.c.val[(size_t)q];
    return out;
}

constexpr int64_t kSerialRows = 32;

// rows of x [B, d] in blocks of `batch`: fn(row0, n, codes of the block)
template <class F>
void encode_blocks(const Sae& s, const float* x, int64_t B, int64_t batch, F&& fn) {
    // a few rows are cheaper on this thread alone than waking the sleeping OpenMP and OpenBLAS workers (the
    // values are the same: every row is encoded on its own)
    ThreadScope one(B <= kSerialRows ? 1 : 0);
    SparseCodes c;
    SaeEncodeScratch scratch;
    for (int64_t r0 = 0; r0 < B; r0 += batch) {
        const int64_t n = std::min(batch, B - r0);
        sae_encode(s, x + r0 * s.d(), n, c, scratch);
        fn(r0, n, c);
    }
}

SparseCodes codes_from_arg(const PySae& p, pb::handle codes, const char* name) {
    if (pb::isinstance<PyCodes>(codes)) {
        const PyCodes& pc = codes.cast<const PyCodes&>();
        if (pc.d_sae != p.sae.F())
            value_error(strformat("argument '%s': codes of %lld latents, the SAE has %lld", name, (long long)pc.d_sae,
                                  (long long)p.sae.F()));
        return pc.c;
    }
    FloatIn in = float_input(codes, name, 2, p.sae.F(), true);
    SparseCodes c;
    c.rows = in.shape[0];
    c.off.assign(1, 0);
    const int64_t F = p.sae.F();
    for (int64_t b = 0; b < c.rows; b++) {
        for (int64_t f = 0; f < F; f++) {
            const float v = in.data[b * F + f];
            if (v != 0.0f) {
                c.idx.push_back((int32_t)f);
                c.val.push_back(v);
            }
        }
        c.off.push_back((int64_t)c.idx.size());
    }
    return c;
}


}  // namespace

void bind_sae(pb::module_& m) {
    pb::class_<PyCodes>(m, "SparseCodes",
                        "Sparse codes of a batch (CSR): row b's active latents are indices[offsets[b]:offsets[b+1]] "
                        "with values[...].")
        .def_property_readonly("rows", [](const PyCodes& p) { return p.c.rows; })
        .def_property_readonly("d_sae", [](const PyCodes& p) { return p.d_sae; })
        .def_property_readonly("nnz", [](const PyCodes& p) { return (int64_t)p.c.idx.size(); })
        .def_property_readonly("offsets", [](const PyCodes& p) {
            pb::array_t<int64_t> a((pb::ssize_t)p.c.off.size());
            if (!p.c.off.empty()) std::memcpy(a.mutable_data(), p.c.off.data(), p.c.off.size() * 8);
            return a;
        }, "int64 [rows + 1]")
        .def_property_readonly("indices", [](const PyCodes& p) {
            pb::array_t<int32_t> a((pb::ssize_t)p.c.idx.size());
            if (!p.c.idx.empty()) std::memcpy(a.mutable_data(), p.c.idx.data(), p.c.idx.size() * 4);
            return a;
        }, "int32 [nnz]: latent ids")
        .def_property_readonly("values", [](const PyCodes& p) {
            return copy_of(p.c.val.data(), {(int64_t)p.c.val.size()});
        }, "float32 [nnz]: activations")
        .def("to_dense", &dense_codes, "float32 [rows, d_sae]")
        .def(
            "padded",
            [](const PyCodes& p) {
                int64_t kmax = 0;
                for (int64_t b = 0; b < p.c.rows; b++) kmax = std::max(kmax, p.c.off[b + 1] - p.c.off[b]);
                pb::array_t<int32_t> I(std::vector<pb::ssize_t>{(pb::ssize_t)p.c.rows, (pb::ssize_t)kmax});
                FloatArray V = new_float_array({p.c.rows, kmax});
                int32_t* ip = I.mutable_data();
                float* vp = V.mutable_data();
                std::fill(ip, ip + p.c.rows * kmax, -1);
                std::fill(vp, vp + p.c.rows * kmax, 0.0f);
                for (int64_t b = 0; b < p.c.rows; b++)
                    for (int64_t q = p.c.off[b]; q < p.c.off[b + 1]; q++) {
                        ip[b * kmax + (q - p.c.off[b])] = p.c.idx[(size_t)q];
                        vp[b * kmax + (q - p.c.off[b])] = p.c.val[(size_t)q];
                    }
                return pb::make_tuple(I, V);
            },
            "(indices int32 [rows, kmax] with -1 padding, values float32 [rows, kmax]): the arrays `unfold sae "
            "encode` writes (indices.npy, values.npy).")
        .def("__len__", [](const PyCodes& p) { return p.c.rows; })
        .def("__repr__", [](const PyCodes& p) {
            return strformat("<unfold.sae.SparseCodes %lld rows x %lld latents, %zu active>", (long long)p.c.rows,
                             (long long)p.d_sae, p.c.idx.size());
        });

    pb::class_<PySae>(m, "Sae", "A sparse autoencoder (any architecture unfold trains or loads).")
        .def_property_readonly("arch", [](const PySae& p) { return std::string(sae_arch_name(p.sae.cfg.arch)); })
        .def_property_readonly("d_in", [](const PySae& p) { return p.sae.d(); })
        .def_property_readonly("d_sae", [](const PySae& p) { return p.sae.F(); })
        .def_property_readonly("k", [](const PySae& p) { return p.sae.cfg.k; })
        .def_property_readonly("threshold", [](const PySae& p) { return p.sae.threshold; },
                               "BatchTopK's inference threshold (0 for other architectures).")
        .def_property_readonly("format", [](const PySae& p) { return p.format; },
                               "What it was loaded from: saelens (unfold writes this layout), sparsify, gemmascope, "
                               "or unfold for an SAE made in this process.")
        .def_property_readonly("config", [](const PySae& p) { return to_py(p.sae.cfg.to_json()); })
        .def_property_readonly("metadata", [](const PySae& p) { return to_py(p.sae.metadata); },
                               "What it was trained on (SAELens cfg.json metadata: model_name, hook_name, ...).")
        .def_property_readonly("hook", [](const PySae& p) {
            const SaeHookInfo h = sae_hook_info(p.sae);
            pb::dict d;
            d["model_name"] = h.model_name;
            d["hook_name"] = h.hook_name;
            d["hook_layer"] = h.hook_layer;
            d["context_size"] = h.context_size;
            d["prepend_bos"] = h.prepend_bos;
            return d;
        })
        .def_property_readonly(
            "params",
            [](pb::object self) {
                PySae& p = self.cast<PySae&>();
                pb::dict d;
                for (const ParamView& v : p.sae.params.views)
                    d[pb::str(v.name)] = view_of(p.sae.params.data.data() + v.offset, v.shape, self);
                return d;
            },
            "Every parameter by name as writable float32 views of the SAE's memory (W_enc [d_in, d_sae], b_enc, "
            "W_dec [d_sae, d_in], b_dec; log_threshold for JumpReLU; r_mag, b_mag for Gated).")
        .def_property_readonly("W_enc", [](pb::object self) {
            PySae& p = self.cast<PySae&>();
            return view_of(p.sae.W_enc(), {p.sae.d(), p.sae.F()}, self);
        }, "[d_in, d_sae] (a view)")
        .def_property_readonly("b_enc", [](pb::object self) {
            PySae& p = self.cast<PySae&>();
            return view_of(p.sae.b_enc(), {p.sae.F()}, self);
        }, "[d_sae] (a view)")
        .def_property_readonly("W_dec", [](pb::object self) {
            PySae& p = self.cast<PySae&>();
            return view_of(p.sae.W_dec(), {p.sae.F(), p.sae.d()}, self);
        }, "[d_sae, d_in] (a view): row i is feature i's decoder direction")
        .def_property_readonly("b_dec", [](pb::object self) {
            PySae& p = self.cast<PySae&>();
            return view_of(p.sae.b_dec(), {p.sae.d()}, self);
        }, "[d_in] (a view)")
        .def(
            "encode",
            [](const PySae& p, pb::object x, bool sparse, int64_t batch) -> pb::object {
                if (batch < 1) value_error("batch must be >= 1");
                FloatIn in = float_input(x, "x", 2, p.sae.d(), true);
                const int64_t B = in.shape[0], F = p.sae.F();
                if (!sparse) {
                    FloatArray out = new_float_array({B, F});
                    float* o = out.mutable_data();
                    nogil([&] {
                        std::fill(o, o + B * F, 0.0f);
                        encode_blocks(p.sae, in.data, B, batch, [&](int64_t r0, int64_t n, const SparseCodes& c) {
                            for (int64_t b = 0; b < n; b++)
                                for (int64_t q = c.off[b]; q < c.off[b + 1]; q++)
                                    o[(r0 + b) * F + c.idx[(size_t)q]] = c.val[(size_t)q];
                        });
                    });
                    return out;
                }
                auto codes = std::make_unique<PyCodes>();
                codes->d_sae = F;
                SparseCodes& all = codes->c;
                nogil([&] {
                    all.rows = B;
                    all.off.assign(1, 0);
                    encode_blocks(p.sae, in.data, B, batch, [&](int64_t, int64_t n, const SparseCodes& c) {
                        for (int64_t b = 0; b < n; b++) all.off.push_back(all.off.back() + c.off[b + 1] - c.off[b]);
                        all.idx.insert(all.idx.end(), c.idx.begin(), c.idx.end());
                        all.val.insert(all.val.end(), c.val.begin(), c.val.end());
                    });
                });
                return pb::cast(std::move(codes));
            },
            pb::arg("x"), pb::kw_only(), pb::arg("sparse") = false, pb::arg("batch") = 4096,
            "Codes of x [rows, d_in] (a 1-D x is one row), float32 and C-contiguous for no copy: dense float32 "
            "[rows, d_sae], or with sparse=True a SparseCodes (CSR; .padded() gives `unfold sae encode`'s arrays). "
            "The same values as `unfold sae encode`. Runs on the threads of unfold.set_num_threads.")
        .def(
            "decode",
            [](const PySae& p, pb::object codes) {
                SparseCodes c = codes_from_arg(p, codes, "codes");
                FloatArray out = new_float_array({c.rows, p.sae.d()});
                float* o = out.mutable_data();
                nogil([&] { sae_decode(p.sae, c, o); });
                return out;
            },
            pb::arg("codes"), "Reconstructions [rows, d_in] of dense codes [rows, d_sae] or a SparseCodes.")
        .def(
            "reconstruct",
            [](const PySae& p, pb::object x, int64_t batch) {
                if (batch < 1) value_error("batch must be >= 1");
                FloatIn in = float_input(x, "x", 2, p.sae.d(), true);
                FloatArray out = new_float_array({in.shape[0], p.sae.d()});
                float* o = out.mutable_data();
                nogil([&] {
                    encode_blocks(p.sae, in.data, in.shape[0], batch, [&](int64_t r0, int64_t, const SparseCodes& c) {
                        sae_decode(p.sae, c, o + r0 * p.sae.d());
                    });
                });
                return out;
            },
            pb::arg("x"), pb::kw_only(), pb::arg("batch") = 4096, "decode(encode(x)), in blocks of `batch` rows.")
        .def(
            "evaluate",
            [](const PySae& p, pb::object source, int64_t tokens, int64_t batch, double match_cos, uint64_t seed,
               int64_t shuffle_buffer, const std::string& tensor) {
                auto src = open_source_arg(source, seed, shuffle_buffer, false, tensor, nullptr);
                if (src->dim() != p.sae.d())
                    value_error(strformat("source rows have %lld values, the SAE expects %lld", (long long)src->dim(),
                                          (long long)p.sae.d()));
                SaeEvalOptions o;
                o.tokens = tokens;
                o.batch = batch;
                o.match_cos = match_cos;
                std::vector<float> density;
                Json j = nogil([&] { return sae_evaluate(p.sae, *src, o, &density); });
                return to_py(j);
            },
            pb::arg("source"), pb::kw_only(), pb::arg("tokens") = 65536, pb::arg("batch") = 4096,
            pb::arg("match_cos") = 0.9, pb::arg("seed") = 0, pb::arg("shuffle_buffer") = 262144,
            pb::arg("tensor") = "",
            "`unfold sae eval`'s metrics (mse, fvu, explained_variance, l0, l1, dead_frac, density histogram, "
            "shrinkage, cossim; mmcs etc. with ground truth) on `tokens` rows of an array or a path / spec.")
        .def(
            "save",
            [](const PySae& p, const std::string& dir, pb::object metadata) {
                Json meta = metadata.is_none() ? Json::object() : from_py(metadata, "metadata");
                if (!meta.is_obj()) type_error("metadata: expected a dict");
                nogil([&] {
                    make_dirs(dir);
                    sae_save(dir, p.sae, nullptr, meta);
                });
            },
            pb::arg("dir"), pb::kw_only(), pb::arg("metadata") = pb::none(),
            "Writes a SAELens folder (cfg.json + sae_weights.safetensors), loadable by unfold, SAELens' "
            "SAE.load_from_disk and sae_vis.")
        .def("__repr__", [](const PySae& p) {
            return strformat("<unfold.sae.Sae %s d_in=%lld d_sae=%lld%s>", sae_arch_name(p.sae.cfg.arch),
                             (long long)p.sae.d(), (long long)p.sae.F(),
                             p.sae.cfg.arch == SaeArch::TOPK || p.sae.cfg.arch == SaeArch::BATCHTOPK
                                 ? strformat(" k=%d", p.sae.cfg.k).c_str()
                                 : "");
        });

    m.def(
        "load",
        [](pb::object path) {
            auto p = std::make_unique<PySae>();
            const std::string s = pb::str(path).cast<std::string>();
            p->sae = nogil([&] { return sae_load(s, &p->format); });
            return p;
        },
        pb::arg("path"),
        "Loads an SAE folder or file as `unfold` does: SAELens (cfg.json + sae_weights.safetensors; what unfold "
        "writes), sparsify (cfg.json + sae.safetensors), Gemma Scope params.npz.");
    m.def(
        "init",
        [](int64_t d_in, int64_t d_sae, const std::string& arch, int k, uint64_t seed) {
            SaeConfig c;
            c.arch = parse_sae_arch(arch);
            c.d_in = d_in;
            c.d_sae = d_sae;
            c.k = k;
            c.unit_norm_decoder = c.arch == SaeArch::TOPK || c.arch == SaeArch::BATCHTOPK;
            c.validate("unfold.sae.init");
            auto p = std::make_unique<PySae>();
            p->sae = sae_init(c, seed);
            return p;
        },
        pb::arg("d_in"), pb::arg("d_sae"), pb::kw_only(), pb::arg("arch") = "topk", pb::arg("k") = 16,
        pb::arg("seed") = 0, "A freshly initialised SAE (unit-norm Gaussian decoder rows, W_enc = W_dec^T).");

    pb::class_<SaeTrainResult>(m, "TrainResult", "What unfold.sae.train returns.")
        .def_property_readonly("sae", [](const SaeTrainResult& r) {
            auto p = std::make_unique<PySae>();
            p->sae = r.sae;
            return p;
        }, "The trained SAE (a copy; on raw activations: the input scale is folded in).")
        .def_property_readonly("log", [](const SaeTrainResult& r) { return to_py(r.log); },
                               "[{step, loss, mse, fvu, l0, dead_frac, lr, ...}] every log_every steps")
        .def_property_readonly("eval", [](const SaeTrainResult& r) { return to_py(r.eval); })
        .def_property_readonly("metrics", [](const SaeTrainResult& r) { return to_py(r.metrics); },
                               "What metrics.json holds.")
        .def_property_readonly("log10_density", [](const SaeTrainResult& r) {
            return copy_of(r.log10_density.data(), {(int64_t)r.log10_density.size()});
        })
        .def_readonly("steps_done", &SaeTrainResult::steps_done)
        .def_readonly("finished", &SaeTrainResult::finished)
        .def_readonly("seconds", &SaeTrainResult::seconds)
        .def_readonly("tokens_per_s", &SaeTrainResult::tokens_per_s);

    m.def(
        "train",
        [](pb::object source, const std::string& arch, int64_t latents, int k, int64_t steps, int64_t batch, float lr,
           int64_t warmup, const std::string& decay, float final_lr_frac, float l1, float l0, float bandwidth,
           float init_threshold, int64_t coef_warmup, int k_aux, float aux_coef, int64_t dead_tokens,
           int64_t resample_every, const std::string& decoder_norm, float clip, bool normalize,
           bool geometric_median, int64_t log_every, int64_t checkpoint_every, int64_t eval_tokens,
           int64_t shuffle_buffer, const std::string& tensor, uint64_t seed, pb::object out, bool resume,
           int64_t stop_at, pb::object metadata, int threads, pb::object progress) {
            SaeTrainConfig c;
            c.sae.arch = parse_sae_arch(arch);
            c.sae.d_sae = latents;
            c.sae.k = k;
            c.sae.l1_coef = l1;
            c.sae.l0_coef = l0;
            c.sae.bandwidth = bandwidth;
            c.sae.init_threshold = init_threshold;
            c.sae.k_aux = k_aux;
            c.sae.aux_coef = aux_coef;
            if (decoder_norm != "auto" && decoder_norm != "unit" && decoder_norm != "free")
                value_error("decoder_norm: expected 'auto', 'unit' or 'free', got '" + decoder_norm + "'");
            c.sae.unit_norm_decoder = decoder_norm == "unit" || (decoder_norm == "auto" && (c.sae.arch == SaeArch::TOPK ||
                                                                                          c.sae.arch == SaeArch::BATCHTOPK));
            c.steps = steps;
            c.batch = batch;
            c.lr = lr;
            c.warmup_steps = warmup;
            c.decay = decay;
            c.final_lr_frac = final_lr_frac;
            c.coef_warmup_steps = coef_warmup;
            c.clip_grad = clip;
            c.normalize = normalize;
            c.geometric_median = geometric_median;
            c.dead_tokens = dead_tokens;
            c.resample_every = resample_every;
            c.log_every = std::max<int64_t>(1, log_every);
            c.checkpoint_every = checkpoint_every;
            c.seed = seed;
            check_memory_fits(sae_train_memory_bytes(c, 1),
                              strformat("unfold.sae.train: latents %lld with batch %lld", (long long)latents,
                                        (long long)batch));
            c.validate("unfold.sae.train");
            std::string name;
            auto src = open_source_arg(source, seed, shuffle_buffer, false, tensor, &name);
            c.sae.d_in = src->dim();
            check_memory_fits(sae_train_memory_bytes(c, c.sae.d_in),
                              strformat("unfold.sae.train: latents %lld with batch %lld and d_in %lld",
                                        (long long)latents, (long long)batch, (long long)c.sae.d_in));
            SaeTrainOptions o;
            o.out_dir = out.is_none() ? "" : pb::str(out).cast<std::string>();
            if (resume && o.out_dir.empty()) value_error("resume needs out= (the run folder whose checkpoint it continues)");
            o.resume = resume;
            o.stop_at = stop_at;
            o.eval_tokens = eval_tokens;
            o.ctx = make_context(progress, threads);
            o.metadata = saelens_metadata_from_cache_meta(src->meta());
            o.metadata["dataset_path"] = name;
            if (!metadata.is_none()) {
                Json extra = from_py(metadata, "metadata");
                if (!extra.is_obj()) type_error("metadata: expected a dict");
                for (auto& [key, v] : extra.obj) o.metadata[key] = v;
            }
            return nogil([&] {
                if (!o.out_dir.empty()) make_dirs(o.out_dir);
                auto r = std::make_unique<SaeTrainResult>(sae_train(c, *src, o));
                if (r->sae.metadata.size() == 0) r->sae.metadata = o.metadata;  // what cfg.json records
                return r;
            });
        },
        pb::arg("source"), pb::kw_only(), pb::arg("arch") = "topk", pb::arg("latents") = 2048, pb::arg("k") = 16,
        pb::arg("steps") = 3000, pb::arg("batch") = 4096, pb::arg("lr") = 4e-4f, pb::arg("warmup") = 0,
        pb::arg("decay") = "constant", pb::arg("final_lr_frac") = 0.1f, pb::arg("l1") = 5.0f, pb::arg("l0") = 0.02f,
        pb::arg("bandwidth") = 0.05f, pb::arg("init_threshold") = 0.01f, pb::arg("coef_warmup") = 0,
        pb::arg("k_aux") = 0, pb::arg("aux_coef") = 0.03125f, pb::arg("dead_tokens") = 1000000,
        pb::arg("resample_every") = 0, pb::arg("decoder_norm") = "auto", pb::arg("clip") = 1.0f,
        pb::arg("normalize") = false, pb::arg("geometric_median") = true, pb::arg("log_every") = 50,
        pb::arg("checkpoint_every") = 500, pb::arg("eval_tokens") = 65536, pb::arg("shuffle_buffer") = 262144,
        pb::arg("tensor") = "", pb::arg("seed") = 0, pb::arg("out") = pb::none(), pb::arg("resume") = false,
        pb::arg("stop_at") = -1, pb::arg("metadata") = pb::none(), pb::arg("threads") = 0,
        pb::arg("progress") = pb::none(),
        "Trains an SAE: the options of `unfold sae train` (same names with underscores, same defaults, same "
        "result for the same seed and threads).\n\n"
        "source: a float32 array [rows, d_in] (used in place), or what --input takes: a .npy, "
        "'file.safetensors' with tensor=NAME, a shard folder (`unfold lm cache`, `unfold data synth`) or "
        "'planted:d=64,features=256,p=0.02'. arch: topk | batchtopk | standard (relu) | jumprelu | gated. With "
        "out=DIR the SAELens folder, metrics.json and checkpoints go there (resume=True continues exactly). "
        "progress: None, True (a bar on stderr) or a callable taking a dict per update. Ctrl-C stops between "
        "steps (the last checkpoint stays whole).");
}

}  // namespace unfold::py

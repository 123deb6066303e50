// py_lm.cpp: unfold.lm: load a model (llama2.c .bin, Hugging Face safetensors) and a tokenizer, forward passes
// with Python hooks at the TransformerLens hook points, run_with_cache, next-token loss and generation (with an
// SAE at a hook: steering, scaling, ablation, splicing), as `unfold lm generate` does.
//
// Hooks: a callable gets (activation, name) with activation a writable float32 array of the hook's shape. The
// activations that live in the forward's own buffers (residual stream, attention scores and patterns, hook_z,
// MLP, logits) are handed over as views of that memory (no copy); the few that the forward builds in temporary
// buffers (norm scales, per-head q/k/v and inputs, hook_result, hook_mlp_in) as a copy that is written back
// after the call. Either way the memory stays valid as long as Python holds the array, so a kept array can
// never crash the process; but it is only meaningful during the call, so keeping it is an error.
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "py_common.h"
#include "unfold/core/error.h"
#include "unfold/features/splice.h"
#include "unfold/lm/checkpoint.h"
#include "unfold/lm/generate.h"
#include "unfold/lm/hooks.h"
#include "unfold/lm/model.h"
#include "unfold/lm/tokenizer.h"
#include "unfold/sae/sae.h"

namespace unfold::py {

namespace {

struct PyModel {
    LmModel m;
    std::string path;
};

std::string path_arg(pb::handle p, const char* name) {
    if (pb::isinstance<pb::str>(p)) return p.cast<std::string>();
    if (pb::hasattr(p, "__fspath__")) {
        pb::object s = p.attr("__fspath__")();
        if (pb::isinstance<pb::str>(s)) return s.cast<std::string>();
    }
    type_error(std::string("argument '") + name + "': expected a path (str or os.PathLike), got " +
               pb::str(p.get_type().attr("__name__")).cast<std::string>());
}

std::string type_name(pb::handle o) { return pb::str(o.get_type().attr("__name__")).cast<std::string>(); }

// text from C++ (token pieces may hold partial UTF-8 sequences): undecodable bytes as surrogate escapes
pb::object text_of(const std::string& s) { return to_py(Json(s)); }

std::string py_shape(const Shape& s) {
    std::string o = "(";
    for (size_t i = 0; i < s.size(); i++) o += (i ? ", " : "") + std::to_string(s[i]);
    return o + (s.size() == 1 ? ",)" : ")");
}

// ---- tokens ---------------------------------------------------------------------------------------------

struct Tokens {
    IdsIn in;
    int64_t B = 1, T = 0;
    bool batched = false;  // given as [B, T] (else [T], B = 1)
    std::vector<int64_t> out_shape(int64_t last) const {
        return batched ? std::vector<int64_t>{B, T, last} : std::vector<int64_t>{T, last};
    }
};

void check_ids(const int32_t* ids, int64_t n, int64_t vocab, const char* name) {
    for (int64_t i = 0; i < n; i++)
        if (ids[i] >= vocab)
            value_error(strformat("argument '%s': token id %d (at flat index %lld) is outside the model's vocabulary "
                                  "[0, %lld)",
                                  name, ids[i], (long long)i, (long long)vocab));
}

Tokens tokens_arg(const LmConfig& c, pb::handle obj, const char* name, int64_t min_T = 1) {
    Tokens t;
    t.in = ids_input(obj, name);
    if (t.in.shape.size() == 1) {
        t.T = t.in.shape[0];
    } else if (t.in.shape.size() == 2) {
        t.batched = true;
        t.B = t.in.shape[0];
        t.T = t.in.shape[1];
    } else {
        value_error(std::string("argument '") + name + "': expected token ids [T] or [B, T], got " +
                    describe_array(t.in.arr));
    }
    if (t.B < 1 || t.T < min_T)
        value_error(strformat("argument '%s': needs at least %lld token(s) per sequence, got ", name, (long long)min_T) +
                    describe_array(t.in.arr));
    if (t.T > c.n_ctx)
        value_error(strformat("argument '%s': %lld positions exceed the model's context %lld", name, (long long)t.T,
                              (long long)c.n_ctx));
    check_ids(t.in.data, t.B * t.T, c.vocab, name);
    return t;
}

// ---- hooks ----------------------------------------------------------------------------------------------

// The forward's activation buffer: an activation inside it is handed to a hook as a view; the view keeps the
// buffer alive (through `owner`, made on first use) after the forward is gone.
struct Arena {
    std::shared_ptr<LmActs> acts;  // null: every activation is copied (generate's buffers are its own)
    pb::object owner;
    bool contains(const float* p, int64_t n) const {
        if (!acts || acts->buf.empty()) return false;
        const float *lo = acts->buf.data(), *hi = lo + acts->buf.size();
        return p >= lo && p + n <= hi;
    }
};

struct PyHook {
    std::string name;
    pb::object fn;
};

// Python hooks and the HookSet that calls them. Not movable (the HookFns point at its members); the Python
// objects are released with the GIL held (the binding function's scope).
struct PyHooks {
    std::vector<std::unique_ptr<PyHook>> entries;
    HookSet set;
    Arena arena;
    PyHooks() = default;
    PyHooks(const PyHooks&) = delete;
    PyHooks& operator=(const PyHooks&) = delete;
    const HookSet* get() const { return set.empty() ? nullptr : &set; }
};

// a hook's return value into the activation (the GIL held)
void assign_result(FloatArray& act, pb::handle r, const std::string& name, const Shape& shape) {
    if (r.is(act)) return;
    pb::module_ np = pb::module_::import("numpy");
    pb::array a;
    try {
        a = np.attr("asarray")(r).cast<pb::array>();
    } catch (pb::error_already_set&) {
        type_error("hook '" + name + "': returned a " + type_name(r) +
                   "; return None (after editing the activation in place) or a float array of shape " +
                   py_shape(shape));
    }
    const char kind = a.dtype().kind();
    if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b')
        type_error("hook '" + name + "': returned an array of " + describe_array(a) +
                   "; return None or a real-valued (float32) array of shape " + py_shape(shape));
    bool same = a.ndim() == (pb::ssize_t)shape.size();
    for (size_t i = 0; same && i < shape.size(); i++) same = a.shape((pb::ssize_t)i) == shape[i];
    if (!same)
        value_error("hook '" + name + "': returned an array of " + describe_array(a) + ", the activation has shape " +
                    py_shape(shape));
    np.attr("copyto")(act, a);
}

// Calls one Python hook from inside the forward (which runs without the GIL). Python exceptions propagate as
// pb::error_already_set through the C++ forward and reach the caller as themselves.
void call_py_hook(const PyHook& h, const std::string& name, float* data, const Shape& shape, Arena& arena) {
    pb::gil_scoped_acquire gil;
    const int64_t n = shape_numel(shape);
    const bool in_place = arena.contains(data, n);
    if (in_place && !arena.owner) {
        auto* keep = new std::shared_ptr<LmActs>(arena.acts);
        arena.owner = pb::capsule(keep, [](void* p) { delete static_cast<std::shared_ptr<LmActs>*>(p); });
    }
    FloatArray act = in_place ? view_of(data, shape, arena.owner) : copy_of(data, shape);
    {
        pb::object r = h.fn(act, name);
        if (!r.is_none()) assign_result(act, r, name, shape);
    }
    if (Py_REFCNT(act.ptr()) > 1)
        fail("hook '%s': the activation array (or a view of it) is still referenced after the hook returned; it is "
             "only valid during the call: keep activation.copy() instead",
             name.c_str());
    if (!in_place) std::memcpy(data, act.data(), (size_t)n * sizeof(float));
}

void add_hook(PyHooks& hk, const LmConfig& c, pb::handle name_obj, pb::handle fn) {
    if (!pb::isinstance<pb::str>(name_obj))
        type_error("argument 'hooks': hook names are str, got a " + type_name(name_obj));
    const std::string name = name_obj.cast<std::string>();
    validate_hook_name(name, c);
    if (!PyCallable_Check(fn.ptr()))
        type_error("argument 'hooks': the hook for '" + name + "' is a " + type_name(fn) +
                   ", not a callable taking (activation, name)");
    hk.entries.push_back(std::make_unique<PyHook>(PyHook{name, pb::reinterpret_borrow<pb::object>(fn)}));
    PyHook* e = hk.entries.back().get();
    Arena* arena = &hk.arena;
    hk.set.add(name, [e, arena](const std::string& nm, float* data, const Shape& shape) {
        call_py_hook(*e, nm, data, shape, *arena);
    });
}

// hooks=: None, {name: callable} or [(name, callable), ...]
void add_hooks(PyHooks& hk, const LmConfig& c, pb::handle hooks) {
    if (hooks.is_none()) return;
    if (pb::isinstance<pb::dict>(hooks)) {
        for (auto kv : pb::reinterpret_borrow<pb::dict>(hooks)) add_hook(hk, c, kv.first, kv.second);
        return;
    }
    if (pb::isinstance<pb::str>(hooks) || !pb::hasattr(hooks, "__iter__"))
        type_error("argument 'hooks': expected a dict {hook_name: callable} or a list of (hook_name, callable) "
                   "pairs, got a " + type_name(hooks));
    for (auto item : hooks) {
        if (pb::isinstance<pb::str>(item) || !pb::isinstance<pb::sequence>(item) || pb::len(item) != 2)
            type_error("argument 'hooks': list items must be (hook_name, callable) pairs, got a " + type_name(item));
        pb::sequence s = pb::reinterpret_borrow<pb::sequence>(item);
        add_hook(hk, c, s[0], s[1]);
    }
}

// A Tensor's memory as a numpy array (no copy; the array owns it).
FloatArray array_of(Tensor&& t) {
    auto* v = new std::vector<float>(std::move(t.data));
    pb::capsule owner(v, [](void* p) { delete static_cast<std::vector<float>*>(p); });
    return view_of(v->data(), t.shape, owner);
}

// The hooks run_with_cache caches by default: every one but those that make the forward take TransformerLens'
// optional per-head paths (use_attn_in, use_split_qkv_input, use_attn_result), which change its rounding.
// One forward over t with the hooks of hk (their activations handed over as views of the forward's buffer);
// returns that buffer (owned by hk's arena, so views a hook kept stay valid).
LmActs& forward_hooked(const PyModel& p, const Tokens& t, PyHooks& hk) {
    hk.arena.acts = std::make_shared<LmActs>();
    ForwardOptions fo;
    fo.hooks = hk.get();
    LmActs& a = *hk.arena.acts;
    nogil([&] { lm_forward(p.m, a, t.in.data, t.B, t.T, fo); });
    return a;
}

bool cached_by_default(const std::string& name) {
    for (const char* s : {"hook_attn_in", "hook_q_input", "hook_k_input", "hook_v_input", "attn.hook_result"}) {
        const size_t n = std::strlen(s);
        if (name.size() >= n && name.compare(name.size() - n, n, s) == 0) return false;
    }
    return true;
}

std::vector<std::string> cache_names(const LmConfig& c, pb::handle names) {
    const std::vector<std::string> all = hook_names(c);
    std::vector<std::string> out;
    if (names.is_none()) {
        for (const auto& n : all)
            if (cached_by_default(n)) out.push_back(n);
        return out;
    }
    if (pb::isinstance<pb::str>(names)) {
        validate_hook_name(names.cast<std::string>(), c);
        return {names.cast<std::string>()};
    }
    if (PyCallable_Check(names.ptr())) {
        for (const auto& n : all)
            if (pb::bool_(names(n))) out.push_back(n);
        return out;
    }
    if (!pb::hasattr(names, "__iter__"))
        type_error("argument 'names': expected None, a hook name, a list of hook names or a callable filter, got a " +
                   type_name(names));
    std::set<std::string> want;
    for (auto e : names) {
        if (!pb::isinstance<pb::str>(e)) type_error("argument 'names': hook names are str, got a " + type_name(e));
        validate_hook_name(e.cast<std::string>(), c);
        want.insert(e.cast<std::string>());
    }
    for (const auto& n : all)
        if (want.count(n)) out.push_back(n);
    return out;
}

// ---- SAE edits ------------------------------------------------------------------------------------------

int64_t feature_arg(pb::handle k, int64_t d_sae, const char* arg) {
    if (pb::isinstance<pb::bool_>(k) || !PyIndex_Check(k.ptr()))
        type_error(std::string("argument '") + arg + "': features are ints, got a " + type_name(k));
    const pb::int_ i = pb::reinterpret_steal<pb::int_>(PyNumber_Index(k.ptr()));
    if (!i) throw pb::error_already_set();
    const pb::int_ lo(0), hi(d_sae);
    if (i < lo || i >= hi)
        value_error(std::string("argument '") + arg + "': feature " + pb::repr(i).cast<std::string>() +
                    strformat(" is not in [0, %lld) (the SAE's d_sae)", (long long)d_sae));
    return i.cast<int64_t>();
}

float value_arg(pb::handle v, int64_t feature, const char* arg) {
    if (!pb::isinstance<pb::float_>(v) && !PyIndex_Check(v.ptr()) && !pb::hasattr(v, "__float__"))
        type_error(strformat("argument '%s': the value for feature %lld is a ", arg, (long long)feature) + type_name(v) +
                   ", not a number");
    const double x = pb::float_(pb::reinterpret_borrow<pb::object>(v)).cast<double>();
    if (!std::isfinite(x) || std::fabs(x) > 3.4e38)
        value_error(strformat("argument '%s': the value for feature %lld is %g (must be finite)", arg,
                              (long long)feature, x));
    return (float)x;
}

// steer {F: V} (clamp), scale {F: x}, ablate [F, ...]: in that order, as parse_sae_edits builds --steer,
// --scale, --ablate
std::vector<SaeEdit> edits_arg(pb::handle steer, pb::handle scale, pb::handle ablate, int64_t d_sae) {
    std::vector<SaeEdit> out;
    auto pairs = [&](pb::handle m, SaeEdit::Kind kind, const char* arg) {
        if (m.is_none()) return;
        if (!pb::hasattr(m, "items"))
            type_error(std::string("argument '") + arg + "': expected a dict {feature: value}, got a " + type_name(m));
        for (auto kv : m.attr("items")()) {
            pb::tuple t = pb::reinterpret_borrow<pb::tuple>(kv);
            SaeEdit e;
            e.kind = kind;
            e.feature = feature_arg(t[0], d_sae, arg);
            e.value = value_arg(t[1], e.feature, arg);
            out.push_back(e);
        }
    };
    pairs(steer, SaeEdit::CLAMP, "steer");
    pairs(scale, SaeEdit::SCALE, "scale");
    if (!ablate.is_none()) {
        auto one = [&](pb::handle f) {
            SaeEdit e;
            e.kind = SaeEdit::ABLATE;
            e.feature = feature_arg(f, d_sae, "ablate");
            out.push_back(e);
        };
        if (PyIndex_Check(ablate.ptr())) {
            one(ablate);
        } else {
            if (pb::isinstance<pb::str>(ablate) || !pb::hasattr(ablate, "__iter__"))
                type_error("argument 'ablate': expected a list of features, got a " + type_name(ablate));
            for (auto f : ablate) one(f);
        }
    }
    return out;
}

}  // namespace

void bind_lm(pb::module_& m) {
    // ---- tokenizer ----
    pb::class_<Tokenizer>(m, "Tokenizer",
                          "A tokenizer: GPT-2 byte-level BPE (vocab.json + merges.txt or tokenizer.json), llama2.c / "
                          "sentencepiece tok*.bin, or unfold's own BPE.")
        .def(
            "encode",
            [](const Tokenizer& t, const std::string& text) {
                std::vector<int32_t> ids = nogil([&] { return t.encode(text); });
                pb::array_t<int32_t> a = new_int_array({(int64_t)ids.size()});
                if (!ids.empty()) std::memcpy(a.mutable_data(), ids.data(), ids.size() * sizeof(int32_t));
                return a;
            },
            pb::arg("text"), "Token ids of text (int32 [n]); no BOS or EOS is added (the model's prompt usually starts "
                             "with bos_id).")
        .def(
            "decode",
            [](const Tokenizer& t, pb::object ids) -> pb::object {
                if ((pb::isinstance<pb::list>(ids) || pb::isinstance<pb::tuple>(ids)) && pb::len(ids) == 0)
                    return pb::str("");  // np.asarray([]) would be float64
                IdsIn in = ids_input(ids, "ids");
                if (in.shape.size() != 1)
                    value_error("argument 'ids': expected a 1-D array of token ids, got " + describe_array(in.arr));
                int64_t n = in.shape[0];
                for (int64_t i = 0; i < n; i++)
                    if (in.data[i] >= t.vocab_size())
                        value_error(strformat("argument 'ids': token id %d (at index %lld) is outside the vocabulary "
                                              "[0, %d)",
                                              in.data[i], (long long)i, t.vocab_size()));
                std::vector<int32_t> v(in.data, in.data + n);
                return text_of(nogil([&] { return t.decode(v); }));
            },
            pb::arg("ids"), "The text of token ids (bytes that are not UTF-8 come back as surrogate escapes: "
                            "s.encode('utf-8', 'surrogateescape') gives the raw bytes).")
        .def(
            "decode_piece",
            [](const Tokenizer& t, int64_t prev, int64_t id) {
                if (prev < -1 || prev >= t.vocab_size())
                    value_error(strformat("argument 'prev': %lld is not -1 (none) or a token id in [0, %d)",
                                          (long long)prev, t.vocab_size()));
                if (id < 0 || id >= t.vocab_size())
                    value_error(strformat("argument 'id': %lld is not a token id in [0, %d)", (long long)id,
                                          t.vocab_size()));
                return text_of(t.decode_piece((int32_t)prev, (int32_t)id));
            },
            pb::arg("prev"), pb::arg("id"),
            "The text token `id` adds after token `prev` (-1: none); llama2.c drops a leading space after BOS. "
            "Concatenated over a generation this is the generated text.")
        .def_property_readonly("vocab_size", &Tokenizer::vocab_size)
        .def_property_readonly("bos_id", &Tokenizer::bos_id, "-1 if none")
        .def_property_readonly("eos_id", &Tokenizer::eos_id, "-1 if none")
        .def_property_readonly("name", &Tokenizer::name)
        .def("__repr__", [](const Tokenizer& t) {
            return strformat("<unfold.lm.Tokenizer %s: vocab %d, bos %d, eos %d>", t.name().c_str(), t.vocab_size(),
                             t.bos_id(), t.eos_id());
        });

    m.def(
        "load_tokenizer",
        [](pb::object path) {
            const std::string p = path_arg(path, "path");
            return nogil([&] { return load_tokenizer(p); });
        },
        pb::arg("path"),
        "Opens a tokenizer: a folder with vocab.json + merges.txt (or tokenizer.json), a tokenizer.json, or a "
        "llama2.c tok*.bin.");

    // ---- model ----
    pb::class_<PyModel>(m, "Model",
                        "A decoder-only transformer (GPT-2 or Llama family) with TransformerLens hook points. "
                        "Forward passes release the GIL and run on the threads of unfold.set_num_threads.")
        .def_property_readonly("config", [](const PyModel& p) { return to_py(lm_config_to_hf_json(p.m.cfg)); },
                               "The Hugging Face config.json of the model, as a dict.")
        .def_property_readonly("arch", [](const PyModel& p) { return std::string(arch_name(p.m.cfg.arch)); },
                               "gpt2 | llama")
        .def_property_readonly("n_layers", [](const PyModel& p) { return p.m.cfg.n_layers; })
        .def_property_readonly("d_model", [](const PyModel& p) { return p.m.cfg.d_model; })
        .def_property_readonly("n_heads", [](const PyModel& p) { return p.m.cfg.n_heads; })
        .def_property_readonly("n_kv_heads", [](const PyModel& p) { return p.m.cfg.n_kv_heads; })
        .def_property_readonly("d_head", [](const PyModel& p) { return p.m.cfg.head_dim(); })
        .def_property_readonly("d_mlp", [](const PyModel& p) { return p.m.cfg.d_mlp; })
        .def_property_readonly("vocab_size", [](const PyModel& p) { return p.m.cfg.vocab; })
        .def_property_readonly("context", [](const PyModel& p) { return p.m.cfg.n_ctx; }, "Max positions.")
        .def_property_readonly("dtype", [](const PyModel& p) { return std::string(dtype_name(lm_dtype(p.m))); })
        .def_property_readonly("path", [](const PyModel& p) { return p.path; })
        .def(
            "set_dtype",
            [](PyModel& p, const std::string& dtype) {
                if (dtype != "fp32" && dtype != "bf16") value_error("argument 'dtype': expected 'fp32' or 'bf16', got '" + dtype + "'");
                nogil([&] { lm_set_dtype(p.m, parse_lm_dtype(dtype, "dtype")); });
            },
            pb::arg("dtype"),
            "fp32, or bf16: the products run on bf16 copies of the weights packed now (call it again after "
            "editing params).")
        .def("hook_names", [](const PyModel& p) { return hook_names(p.m.cfg); },
             "Every hook point of the model in forward order (TransformerLens names).")
        .def_property_readonly(
            "params",
            [](pb::object self) {
                PyModel& p = self.cast<PyModel&>();
                pb::dict d;
                for (const ParamView& v : p.m.params.views)
                    d[pb::str(v.name)] = view_of(p.m.params.data.data() + v.offset, v.shape, self);
                return d;
            },
            "Every parameter by its Hugging Face name as writable float32 views of the model's memory (edits change "
            "later forward passes; a bf16 model needs set_dtype('bf16') again). GPT-2 weights are Conv1D [in, out], "
            "Llama's [out, in] with q_proj / k_proj rows in Meta / llama2.c order (interleaved rotary pairs).")
        .def(
            "forward",
            [](const PyModel& p, pb::object tokens, pb::object hooks) {
                Tokens t = tokens_arg(p.m.cfg, tokens, "tokens");
                PyHooks hk;
                add_hooks(hk, p.m.cfg, hooks);
                LmActs& a = forward_hooked(p, t, hk);
                return copy_of(a.logits.data(), t.out_shape(p.m.cfg.vocab));
            },
            pb::arg("tokens"), pb::arg("hooks") = pb::none(),
            "Logits float32 [B, T, vocab] of token ids [B, T] ([T, vocab] for ids [T]).\n\n"
            "hooks: {hook_name: fn} or [(hook_name, fn), ...]; fn(activation, name) is called as the forward "
            "reaches the hook, with the activation as a writable float32 array of the hook's TransformerLens "
            "shape (always with the batch axis: [1, T, ...] for ids [T]). Edit it in place, or return an array of "
            "the same shape to replace it; the rest of the forward sees the change. The array is only valid during "
            "the call: keeping it (or a view of it) is an error, keep activation.copy(). Exceptions raised in a "
            "hook propagate unchanged.")
        .def(
            "run_with_cache",
            [](const PyModel& p, pb::object tokens, pb::object names, pb::object hooks) {
                Tokens t = tokens_arg(p.m.cfg, tokens, "tokens");
                const std::vector<std::string> want = cache_names(p.m.cfg, names);
                PyHooks hk;
                add_hooks(hk, p.m.cfg, hooks);  // before the cache hooks: the cache holds what the forward saw
                ActivationCache cache;
                for (const auto& n : want) hk.set.add(n, hook_cache(cache));
                LmActs& a = forward_hooked(p, t, hk);
                FloatArray logits = copy_of(a.logits.data(), t.out_shape(p.m.cfg.vocab));
                pb::dict d;
                for (const auto& n : want) {
                    auto it = cache.acts.find(n);
                    if (it != cache.acts.end()) d[pb::str(n)] = array_of(std::move(it->second));
                }
                return pb::make_tuple(logits, d);
            },
            pb::arg("tokens"), pb::arg("names") = pb::none(), pb::arg("hooks") = pb::none(),
            "(logits, cache): forward()'s logits and {hook_name: float32 array} of the activations at the hooks, "
            "in TransformerLens' shapes with the batch axis (resid [B, T, d_model], per-head [B, T, n_heads, "
            "d_head], patterns [B, n_heads, T, T], norm scales [B, T, 1]).\n\n"
            "names: None caches every hook except hook_attn_in, hook_q/k/v_input and attn.hook_result (as in "
            "TransformerLens, these switch the forward to per-head paths that change its float32 rounding; name "
            "them to get them); or a hook name, a list of names, or a callable filter name -> bool. hooks: as in "
            "forward(), run before the caching, so the cache holds the edited values.")
        .def(
            "loss",
            [](const PyModel& p, pb::object tokens, pb::object hooks) {
                Tokens t = tokens_arg(p.m.cfg, tokens, "tokens", 2);
                std::vector<int32_t> targets((size_t)(t.B * t.T));
                for (int64_t b = 0; b < t.B; b++)
                    for (int64_t i = 0; i < t.T; i++)
                        targets[(size_t)(b * t.T + i)] = i + 1 < t.T ? t.in.data[b * t.T + i + 1] : -1;
                PyHooks hk;
                add_hooks(hk, p.m.cfg, hooks);
                LmActs& a = forward_hooked(p, t, hk);
                return nogil([&] { return lm_loss(a, p.m.cfg, targets.data()); });
            },
            pb::arg("tokens"), pb::arg("hooks") = pb::none(),
            "Mean cross-entropy (nats) of predicting tokens[..., 1:] from the positions before them (ids [T] or "
            "[B, T], T >= 2), with optional hooks as in forward().")
        .def(
            "generate",
            [](const PyModel& p, pb::object prompt, int64_t max_new_tokens, double temperature, int64_t top_k,
               uint64_t seed, int64_t stop_id, pb::object sae, pb::object hook, pb::object steer, pb::object scale,
               pb::object ablate, bool keep_error, int64_t from_position, pb::object hooks) {
                const LmConfig& c = p.m.cfg;
                IdsIn in = ids_input(prompt, "prompt");
                if (in.shape.size() != 1 || in.shape[0] < 1)
                    value_error("argument 'prompt': expected a non-empty 1-D array of token ids (usually starting "
                                "with the tokenizer's bos_id), got " + describe_array(in.arr));
                check_ids(in.data, in.shape[0], c.vocab, "prompt");
                if (max_new_tokens < 0) value_error("argument 'max_new_tokens': must be >= 0");
                if (in.shape[0] + std::max<int64_t>(max_new_tokens - 1, 0) > c.n_ctx)
                    value_error(strformat("argument 'max_new_tokens': a prompt of %lld tokens + %lld new tokens "
                                          "exceeds the model's context %lld",
                                          (long long)in.shape[0], (long long)max_new_tokens, (long long)c.n_ctx));
                if (!(temperature >= 0) || !std::isfinite(temperature))
                    value_error(strformat("argument 'temperature': %g is out of range (0 = greedy, > 0 samples)",
                                          temperature));
                if (top_k < 0) value_error("argument 'top_k': must be >= 0 (0 = all tokens)");
                if (stop_id < -1 || stop_id >= c.vocab)
                    value_error(strformat("argument 'stop_id': %lld is not -1 (never) or a token id in [0, %lld)",
                                          (long long)stop_id, (long long)c.vocab));
                GenerateOptions o;
                o.max_new_tokens = max_new_tokens;
                o.temperature = (float)temperature;
                o.top_k = top_k;
                o.seed = seed;
                o.stop_id = (int32_t)stop_id;
                PyHooks hk;  // no arena: generate's activations are its own, so hooks get copies
                if (!sae.is_none()) {
                    if (!pb::isinstance<PySae>(sae))
                        type_error("argument 'sae': expected an unfold.sae.Sae, got a " + type_name(sae));
                    const Sae& s = sae.cast<const PySae&>().sae;
                    std::string override_hook;
                    if (!hook.is_none()) {
                        if (!pb::isinstance<pb::str>(hook))
                            type_error("argument 'hook': expected a hook name (str), got a " + type_name(hook));
                        override_hook = hook.cast<std::string>();
                    }
                    SpliceOptions so;
                    so.edits = edits_arg(steer, scale, ablate, s.F());
                    so.keep_error = keep_error;
                    if (from_position < 0) value_error("argument 'from_position': must be >= 0");
                    so.from_position = from_position;
                    const std::string at = sae_hook_for(p.m, s, override_hook);
                    hk.set.add(at, hook_sae_splice(s, so));  // the SAE object stays alive: `sae` holds it
                } else {
                    for (auto [v, n] : {std::pair{&hook, "hook"}, {&steer, "steer"}, {&scale, "scale"},
                                        {&ablate, "ablate"}})
                        if (!v->is_none()) value_error(std::string("argument '") + n + "' needs sae=");
                    if (!keep_error) value_error("argument 'keep_error': False (splicing) needs sae=");
                }
                add_hooks(hk, c, hooks);  // after the SAE: they see the spliced activation
                o.hooks = hk.get();
                std::vector<int32_t> pr(in.data, in.data + (size_t)in.shape[0]);
                std::vector<int32_t> out = nogil([&] { return lm_generate(p.m, pr, o); });
                pb::array_t<int32_t> a = new_int_array({(int64_t)out.size()});
                if (!out.empty()) std::memcpy(a.mutable_data(), out.data(), out.size() * sizeof(int32_t));
                return a;
            },
            pb::arg("prompt"), pb::arg("max_new_tokens") = 200, pb::arg("temperature") = 0.0, pb::arg("top_k") = 0,
            pb::arg("seed") = 0, pb::arg("stop_id") = -1, pb::kw_only(), pb::arg("sae") = pb::none(),
            pb::arg("hook") = pb::none(), pb::arg("steer") = pb::none(), pb::arg("scale") = pb::none(),
            pb::arg("ablate") = pb::none(), pb::arg("keep_error") = true, pb::arg("from_position") = 0,
            pb::arg("hooks") = pb::none(),
            "New token ids (int32, the prompt excluded) continuing prompt (ids [T], e.g. [tok.bos_id] + "
            "tok.encode(text)) with a KV cache: greedy when temperature is 0 (ties to the lowest id), else sampled "
            "from softmax(logits / temperature) over the top_k ids (0 = all) with a counter-based RNG (same seed, "
            "same ids). Stops before emitting stop_id (-1: never; `unfold lm generate` stops at BOS for llama2.c "
            "tokenizers, else EOS).\n\n"
            "sae: an unfold.sae.Sae placed at its recorded hook (or hook=) whose latents are edited: steer "
            "{feature: value} clamps, scale {feature: factor} multiplies, ablate [feature, ...] zeroes, at positions "
            ">= from_position; keep_error=False replaces the activation by the reconstruction alone (--splice). "
            "The same ids as `unfold lm generate --sae ... --steer F=V --ids`. hooks: as in forward() (run after "
            "the SAE; during generation each call sees the new token(s) only: [1, T, ...], patterns [1, NH, T, S] "
            "over the cached positions).")
        .def("__repr__", [](const PyModel& p) {
            return "<unfold.lm.Model " + p.m.cfg.describe() + " (" + dtype_name(lm_dtype(p.m)) + ") from " + p.path +
                   ">";
        });

    m.def(
        "load",
        [](pb::object path, const std::string& dtype) {
            if (dtype != "fp32" && dtype != "bf16")
                value_error("argument 'dtype': expected 'fp32' or 'bf16', got '" + dtype + "'");
            auto p = std::make_unique<PyModel>();
            p->path = path_arg(path, "path");
            nogil([&] {
                lm_load(p->m, p->path);
                lm_set_dtype(p->m, parse_lm_dtype(dtype, "dtype"));
            });
            return p;
        },
        pb::arg("path"), pb::arg("dtype") = "fp32",
        "Loads a model as `unfold` does: a llama2.c .bin, a .safetensors file with config.json beside it, or a "
        "folder with config.json + model.safetensors (GPT-2 or Llama names). dtype='bf16' runs the products on "
        "bf16 copies of the weights (see `unfold lm generate --help`).");
}

}  // namespace unfold::py

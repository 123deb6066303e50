// py_features.cpp: unfold.features: read the feature database `unfold features build` writes (SQLite): its
// metadata, the list of features and one feature as the JSON `unfold features show --feature I --json` prints.
// A FeatureDb can be closed (close(), or a with block); every method of a closed one raises ValueError.
#include <memory>

#include "py_common.h"
#include "unfold/features/feature_db.h"

namespace unfold::py {

namespace {

struct PyFeatureDb {
    std::unique_ptr<FeatureDb> db;
    std::string path;
    const FeatureDb& get() const {
        if (!db) value_error("the feature database " + path + " is closed");
        return *db;
    }
};

int64_t feature_index(const FeatureDb& db, pb::handle i) {
    if (pb::isinstance<pb::bool_>(i) || !PyIndex_Check(i.ptr()))
        type_error("argument 'i': expected a feature index (int), got a " +
                   pb::str(i.get_type().attr("__name__")).cast<std::string>());
    const pb::int_ v = pb::reinterpret_steal<pb::int_>(PyNumber_Index(i.ptr()));
    if (!v) throw pb::error_already_set();
    if (v < pb::int_(0) || v >= pb::int_(db.n_features()))
        throw pb::index_error("feature " + pb::repr(v).cast<std::string>() +
                              strformat(" is not in [0, %lld) (%s)", (long long)db.n_features(), db.path().c_str()));
    return v.cast<int64_t>();
}

// surrogate escapes for bytes that are not UTF-8 (a token's text may be part of a character)
pb::object text_of(const std::string& s) { return to_py(Json(s)); }

}  // namespace

void bind_features(pb::module_& m) {
    pb::class_<PyFeatureDb>(m, "FeatureDb",
                            "A features database (read-only). Use it in a with block, or close() it; a closed one "
                            "raises ValueError.")
        .def_property_readonly("path", [](const PyFeatureDb& p) { return p.path; })
        .def_property_readonly("closed", [](const PyFeatureDb& p) { return !p.db; })
        .def_property_readonly("n_features", [](const PyFeatureDb& p) { return p.get().n_features(); })
        .def_property_readonly("vocab_size", [](const PyFeatureDb& p) { return p.get().vocab_size(); })
        .def(
            "meta", [](const PyFeatureDb& p, const std::string& key) { return text_of(p.get().meta(key)); },
            pb::arg("key"),
            "A value of the meta table as text (\"\" if absent): model, sae, hook, corpus, context, tokens, d_sae, "
            "density_histogram (JSON), ...")
        .def(
            "list",
            [](const PyFeatureDb& p) {
                std::vector<DbFeatureSummary> v = p.get().list();
                pb::list l;
                for (const DbFeatureSummary& f : v) {
                    pb::dict d;
                    d["feature"] = f.id;
                    d["fires"] = f.fires;
                    d["density"] = f.density;
                    d["max_activation"] = f.max_act;
                    d["label"] = text_of(f.label);
                    l.append(d);
                }
                return l;
            },
            "Every feature in id order as {feature, fires, density, max_activation, label}: the items of "
            "`unfold features show DB --json` (which sorts and limits them).")
        .def(
            "feature",
            [](const PyFeatureDb& p, pb::handle i) {
                const FeatureDb& db = p.get();
                const int64_t id = feature_index(db, i);
                return to_py(db.feature_json(db.feature(id)));
            },
            pb::arg("i"),
            "Feature i as a dict: the JSON of `unfold features show DB --feature I --json` (fires, density, "
            "mean/max activation, label, label_tokens, top_contexts, interval_contexts, logit_effects, histogram, "
            "neuron_alignment, cofiring, neighbours). IndexError outside [0, n_features).")
        .def(
            "token_text",
            [](const PyFeatureDb& p, int64_t id) {
                const FeatureDb& db = p.get();
                if (id < 0 || id >= db.vocab_size())
                    throw pb::index_error(strformat("token %lld is not in [0, %lld)", (long long)id,
                                                    (long long)db.vocab_size()));
                return text_of(db.token_text((int32_t)id));
            },
            pb::arg("id"), "The text of a token of the model's vocabulary, as the database stores it.")
        .def("__len__", [](const PyFeatureDb& p) { return p.get().n_features(); })
        .def("close", [](PyFeatureDb& p) { p.db.reset(); }, "Closes the database (again: nothing).")
        .def("__enter__", [](pb::object self) {
            self.cast<const PyFeatureDb&>().get();
            return self;
        })
        .def("__exit__", [](PyFeatureDb& p, pb::args) { p.db.reset(); })
        .def("__repr__", [](const PyFeatureDb& p) {
            if (!p.db) return "<unfold.features.FeatureDb " + p.path + " (closed)>";
            return strformat("<unfold.features.FeatureDb %s: %lld features at %s>", p.path.c_str(),
                             (long long)p.db->n_features(), p.db->meta("hook").c_str());
        });

    m.def(
        "open",
        [](pb::object path) {
            std::string s;
            if (pb::isinstance<pb::str>(path)) s = path.cast<std::string>();
            else if (pb::hasattr(path, "__fspath__")) s = path.attr("__fspath__")().cast<std::string>();
            else
                type_error("argument 'path': expected a path (str or os.PathLike), got a " +
                           pb::str(path.get_type().attr("__name__")).cast<std::string>());
            auto p = std::make_unique<PyFeatureDb>();
            p->path = s;
            p->db = nogil([&] { return std::make_unique<FeatureDb>(s); });
            return p;
        },
        pb::arg("path"), "Opens a features database (read-only) written by `unfold features build`.");
}

}  // namespace unfold::py

// py_toy.cpp: unfold.toy: train toy models of superposition (every option of `unfold toy train`), their weights
// as numpy views, per-feature metrics, polytope labels, batches and losses.
#include <sstream>

#include "py_common.h"
#include "unfold/io/fileio.h"
#include "unfold/toy/geometry.h"
#include "unfold/toy/toy.h"

namespace unfold::py {

namespace {

// density / importance given as a spec string ("1:0.05", "0.9", "a,b,c"), a number, or a sequence of numbers
std::vector<float> float_list(pb::handle v, const char* name) {
    std::vector<float> out;
    for (auto e : v) {
        if (!pb::isinstance<pb::float_>(e) && !pb::isinstance<pb::int_>(e))
            type_error(std::string(name) + ": expected numbers, got a " +
                       pb::str(e.get_type().attr("__name__")).cast<std::string>());
        out.push_back(e.cast<float>());
    }
    return out;
}

std::string number_spec(double v) {
    std::ostringstream s;
    s.precision(17);
    s << v;
    return s.str();
}

pb::dict polytope_dict(const Polytope& p) {
    pb::dict d;
    d["features"] = p.features;
    d["k"] = p.k;
    d["dims"] = p.dims;
    d["mean_dimensionality"] = p.mean_dimensionality;
    d["tight"] = p.tight;
    d["name"] = p.name;
    return d;
}

pb::list polytopes_of(const float* W, int m, int n, double norm_threshold, double edge_threshold, double tight_tol) {
    GeometryOptions o;
    o.norm_threshold = norm_threshold;
    o.edge_threshold = edge_threshold;
    o.tight_tol = tight_tol;
    pb::list l;
    for (const Polytope& p : classify_geometry(W, m, n, o)) l.append(polytope_dict(p));
    return l;
}

void check_instance(const ToyModel& t, int inst) {
    if (inst < 0 || inst >= t.cfg.n_instances)
        throw pb::index_error(strformat("instance %d is not in [0, %d)", inst, t.cfg.n_instances));
}

}  // namespace

void bind_toy(pb::module_& m) {
    pb::class_<ToyModel>(m, "ToyModel",
                         "A trained (or initialised) set of toy models: n_instances independent models of n_features "
                         "features in n_hidden dimensions, trained together.")
        .def_property_readonly("kind", [](const ToyModel& t) { return std::string(toy_kind_name(t.cfg.kind)); })
        .def_property_readonly("n_features", [](const ToyModel& t) { return t.cfg.n_features; })
        .def_property_readonly("n_hidden", [](const ToyModel& t) { return t.cfg.n_hidden; })
        .def_property_readonly("n_instances", [](const ToyModel& t) { return t.cfg.n_instances; })
        .def_property_readonly("config", [](const ToyModel& t) { return to_py(t.cfg.to_json()); },
                               "The run's config.json as a dict.")
        .def_property_readonly(
            "params",
            [](pb::object self) {
                ToyModel& t = self.cast<ToyModel&>();
                pb::dict d;
                for (const ParamView& v : t.params.views)
                    d[pb::str(v.name)] = view_of(t.params.data.data() + v.offset, v.shape, self);
                return d;
            },
            "Every parameter by name (W, b; abs: W1, W2, b) as writable float32 views of the model's memory.")
        .def_property_readonly(
            "W",
            [](pb::object self) {
                ToyModel& t = self.cast<ToyModel&>();
                const char* n = t.cfg.kind == ToyKind::ABS ? "W1" : "W";
                return view_of(t.params.get(n), t.params.view(n).shape, self);
            },
            "Feature directions [n_instances, n_hidden, n_features] (W1 for the abs model): a view, column i of "
            "W[k] is feature i's direction in instance k.")
        .def_property_readonly(
            "b", [](pb::object self) {
                ToyModel& t = self.cast<ToyModel&>();
                return view_of(t.params.get("b"), t.params.view("b").shape, self);
            },
            "Output bias [n_instances, n_features] (a view).")
        .def("metrics", [](ToyModel& t) { return to_py(nogil([&] { return toy_metrics_json(t); })); },
             "What metrics.json holds: per instance its density, loss and per-feature norms, interference and "
             "dimensionality (on a fresh evaluation batch).")
        .def("eval_loss",
             [](ToyModel& t) {
                 std::vector<float> l = nogil([&] { return toy_eval_loss(t); });
                 return copy_of(l.data(), {(int64_t)l.size()});
             },
             "Loss per instance on the evaluation batch (the L1 term included).")
        .def(
            "instance_metrics",
            [](const ToyModel& t, int instance) {
                check_instance(t, instance);
                const ToyInstanceMetrics mm =
                    toy_instance_metrics(toy_feature_weights(t, instance), t.cfg.n_hidden, t.cfg.n_features);
                pb::dict d;
                const int64_t n = t.cfg.n_features;
                d["norms"] = copy_of(mm.norms.data(), {n});
                d["interference"] = copy_of(mm.interference.data(), {n});
                d["dimensionality"] = copy_of(mm.dimensionality.data(), {n});
                d["dims_per_feature"] = mm.dims_per_feature;
                return d;
            },
            pb::arg("instance"),
            "Per-feature norms ||W_i||, interference sum_j (W^_i . W_j)^2, dimensionality D_i and the instance's "
            "dimensions per feature m / ||W||_F^2.")
        .def(
            "polytopes",
            [](const ToyModel& t, int instance, double norm_threshold, double edge_threshold, double tight_tol) {
                check_instance(t, instance);
                return polytopes_of(toy_feature_weights(t, instance), t.cfg.n_hidden, t.cfg.n_features, norm_threshold,
                                    edge_threshold, tight_tol);
            },
            pb::arg("instance"), pb::kw_only(), pb::arg("norm_threshold") = 0.5, pb::arg("edge_threshold") = 0.2,
            pb::arg("tight_tol") = 0.06,
            "The polytopes the represented features of one instance form, largest first: dicts {features, k, dims, "
            "mean_dimensionality, tight, name} (name e.g. 'pentagon', 'antipodal pair').")
        .def(
            "batch",
            [](const ToyModel& t, uint64_t step, int size) {
                if (size < 1) value_error("size must be >= 1");
                FloatArray x = new_float_array({size, t.cfg.n_instances, t.cfg.n_features});
                float* p = x.mutable_data();
                nogil([&] { toy_sample_batch(t.cfg, step, size, p); });
                return x;
            },
            pb::arg("step") = 0, pb::arg("size") = 1024,
            "The synthetic batch [size, n_instances, n_features] training draws at `step` (a pure function of the "
            "seed and step).")
        .def(
            "loss",
            [](ToyModel& t, pb::object x) {
                FloatIn in = float_input(x, "x", 3, t.cfg.n_features);
                if (in.shape[1] != t.cfg.n_instances)
                    value_error(strformat("argument 'x': expected [batch, %d, %d], got %s", t.cfg.n_instances,
                                          t.cfg.n_features, describe_array(in.arr).c_str()));
                std::vector<float> l((size_t)t.cfg.n_instances);
                nogil([&] {
                    // a small batch is cheaper on this thread than waking the sleeping workers (same values: the
                    // instances are independent)
                    ThreadScope one(in.size() <= (1 << 16) ? 1 : 0);
                    toy_loss(t, in.data, (int)in.shape[0], l.data(), false);
                });
                return copy_of(l.data(), {(int64_t)l.size()});
            },
            pb::arg("x"), "Loss per instance on a batch x [batch, n_instances, n_features].")
        .def(
            "save", [](const ToyModel& t, const std::string& dir) { nogil([&] { make_dirs(dir); toy_save_run(t, dir); }); },
            pb::arg("dir"), "Writes a run folder (model.safetensors, config.json, metrics.json), as `unfold toy train`.")
        .def("__repr__", [](const ToyModel& t) {
            return strformat("<unfold.toy.ToyModel %s: %d instances, %d features -> %d hidden>", toy_kind_name(t.cfg.kind),
                             t.cfg.n_instances, t.cfg.n_features, t.cfg.n_hidden);
        });

    m.def(
        "train",
        [](int n_features, int n_hidden, int n_instances, const std::string& model, const std::string& data,
           pb::object density, pb::object feature_density, pb::object importance, int correlated_pairs,
           int anticorrelated_pairs, float l1, float lr, float weight_decay, int batch, int64_t steps,
           const std::string& schedule, int64_t warmup, int eval_batch, float init_std, uint64_t seed,
           pb::object out, int64_t checkpoint_every, bool resume, int threads, pb::object progress) {
            ToyConfig c;
            c.n_features = n_features;
            c.n_hidden = n_hidden;
            c.n_instances = n_instances;
            c.kind = parse_toy_kind(model);
            c.data = data.empty() ? (c.kind == ToyKind::ABS ? ToyData::SIGNED : ToyData::UNIFORM) : parse_toy_data(data);
            if (n_features < 1 || n_hidden < 1 || n_instances < 1)
                value_error("n_features, n_hidden and n_instances must be >= 1");
            if (!feature_density.is_none()) {
                if (!density.is_none()) value_error("density and feature_density are mutually exclusive");
                toy_set_feature_density(c, feature_density.cast<std::string>());
            } else if (density.is_none()) {
                toy_set_density(c, toy_parse_density("1:0.05", n_instances));
            } else if (pb::isinstance<pb::str>(density)) {
                toy_set_density(c, toy_parse_density(density.cast<std::string>(), n_instances));
            } else if (pb::isinstance<pb::float_>(density) || pb::isinstance<pb::int_>(density)) {
                toy_set_density(c, toy_parse_density(number_spec(density.cast<double>()), n_instances));
            } else {
                std::vector<float> v = float_list(density, "density");
                if ((int)v.size() != n_instances)
                    value_error(strformat("density: %zu values for %d instances", v.size(), n_instances));
                toy_set_density(c, v);
            }
            if (pb::isinstance<pb::str>(importance)) {
                toy_set_importance(c, toy_parse_importance(importance.cast<std::string>(), n_features));
            } else if (pb::isinstance<pb::float_>(importance) || pb::isinstance<pb::int_>(importance)) {
                toy_set_importance(c, toy_parse_importance(number_spec(importance.cast<double>()), n_features));
            } else {
                std::vector<float> v = float_list(importance, "importance");
                if ((int)v.size() != n_features)
                    value_error(strformat("importance: %zu values for %d features", v.size(), n_features));
                toy_set_importance(c, v);
            }
            c.correlated_pairs = correlated_pairs;
            c.anticorrelated_pairs = anticorrelated_pairs;
            c.l1_hidden = l1;
            c.lr = lr;
            c.weight_decay = weight_decay;
            c.batch = batch;
            c.steps = steps;
            c.schedule = schedule;
            c.warmup_steps = warmup;
            c.eval_batch = eval_batch;
            c.init_std = init_std;
            c.seed = seed;
            c.validate("unfold.toy.train");
            if (checkpoint_every < 0) value_error("checkpoint_every must be >= 0");
            ToyTrainOptions o;
            o.ctx = make_context(progress, threads);
            const std::string dir = out.is_none() ? "" : pb::str(out).cast<std::string>();
            if (!dir.empty()) {
                o.checkpoint_dir = path_join(dir, "checkpoint");
                o.checkpoint_every = checkpoint_every;
                o.resume = resume;
            } else if (resume) {
                value_error("resume needs out= (the run folder whose checkpoint it continues)");
            }
            auto t = std::make_unique<ToyModel>();
            nogil([&] {
                *t = toy_init(c);
                if (!dir.empty()) make_dirs(dir);
                toy_train_ex(*t, o);
                if (!dir.empty()) toy_save_run(*t, dir);
            });
            return t;
        },
        pb::kw_only(), pb::arg("n_features") = 5, pb::arg("n_hidden") = 2, pb::arg("n_instances") = 10,
        pb::arg("model") = "relu", pb::arg("data") = "", pb::arg("density") = pb::none(),
        pb::arg("feature_density") = pb::none(), pb::arg("importance") = 0.9, pb::arg("correlated_pairs") = 0,
        pb::arg("anticorrelated_pairs") = 0, pb::arg("l1") = 0.0f, pb::arg("lr") = 1e-3f, pb::arg("weight_decay") = 0.01f,
        pb::arg("batch") = 1024, pb::arg("steps") = 10000, pb::arg("schedule") = "constant", pb::arg("warmup") = 0,
        pb::arg("eval_batch") = 8192, pb::arg("init_std") = 0.0f, pb::arg("seed") = 0, pb::arg("out") = pb::none(),
        pb::arg("checkpoint_every") = 1000, pb::arg("resume") = false, pb::arg("threads") = 0,
        pb::arg("progress") = pb::none(),
        "Trains toy models of superposition: the options of `unfold toy train` (same defaults, same result for the "
        "same seed).\n\n"
        "model: linear | relu | hidden-relu | abs; data: uniform | one-hot | signed ('' = signed for abs, else "
        "uniform); density: feature probability per instance, a spec ('1:0.05' log-spaced across instances, "
        "'0.1', 'a,b,c'), a number or one value per instance (default '1:0.05'); feature_density: per-feature spec "
        "replacing density; importance: 0.9 (0.9^i), a spec or one value per feature. With out=DIR the run folder "
        "is written there (with checkpoints every checkpoint_every steps; resume=True continues from them "
        "exactly). progress: None, True (a bar on stderr) or a callable taking a dict. Ctrl-C stops the run.");
    m.def(
        "load", [](const std::string& dir) { return std::make_unique<ToyModel>(nogil([&] { return toy_load_run(dir); })); },
        pb::arg("dir"), "Loads a run folder written by `unfold toy train` (or ToyModel.save).");
    m.def(
        "polytopes",
        [](pb::object W, double norm_threshold, double edge_threshold, double tight_tol) {
            FloatIn in = float_input(W, "W", 2);
            return polytopes_of(in.data, (int)in.shape[0], (int)in.shape[1], norm_threshold, edge_threshold, tight_tol);
        },
        pb::arg("W"), pb::kw_only(), pb::arg("norm_threshold") = 0.5, pb::arg("edge_threshold") = 0.2,
        pb::arg("tight_tol") = 0.06,
        "Polytopes of the represented features of any W [m, n] (column i = feature i), largest first.");
}

}  // namespace unfold::py

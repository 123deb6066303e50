// run_io.cpp: toy run folders and training checkpoints.
//
// Run folder:  model.safetensors  W [I, m, n], b [I, n]  (abs: W1 [I, m, n], W2 [I, n, m], b [I, n]), F32,
//                                 metadata {format, model, n_features, n_hidden, n_instances}
//              config.json        ToyConfig::to_json (everything needed to rerun; toy_load_run validates)
//              metrics.json       toy_metrics_json
// Checkpoint:  <dir>/state.safetensors  params [N], adam_m [N], adam_v [N] F32, metadata step / adam_t;
//              <dir>/config.json  the config it belongs to (resume refuses a different one, except steps).
// All writes are atomic (safetensors_write / json_save).
#include <cstring>

#include "unfold/core/error.h"
#include "unfold/io/fileio.h"
#include "unfold/io/json.h"
#include "unfold/io/safetensors.h"
#include "unfold/toy/toy.h"

namespace unfold {

void toy_save_run(const ToyModel& model, const std::string& dir) {
    make_dirs(dir);
    remove_stale_temporaries({path_join(dir, "model.safetensors"), path_join(dir, "config.json"),
                              path_join(dir, "metrics.json")});  // left by a run killed outright
    const ToyConfig& c = model.cfg;
    std::vector<StWriteTensor> ts;
    for (const ParamView& v : model.params.views)
        ts.push_back(StWriteTensor{v.name, v.shape, model.params.data.data() + v.offset, DType::F32});
    std::map<std::string, std::string> meta = {{"format", "unfold-toy"},
                                               {"model", toy_kind_name(c.kind)},
                                               {"n_features", std::to_string(c.n_features)},
                                               {"n_hidden", std::to_string(c.n_hidden)},
                                               {"n_instances", std::to_string(c.n_instances)}};
    safetensors_write(path_join(dir, "model.safetensors"), ts, meta);
    json_save(path_join(dir, "config.json"), c.to_json());
    ToyModel copy = model;  // metrics evaluate the model (needs a mutable one)
    json_save(path_join(dir, "metrics.json"), toy_metrics_json(copy));
}

ToyModel toy_load_run(const std::string& dir) {
    const std::string cpath = path_join(dir, "config.json");
    ToyConfig cfg = ToyConfig::from_json(json_load(cpath), cpath);
    ToyModel model = toy_init(cfg);
    const std::string mpath = path_join(dir, "model.safetensors");
    SafeTensorsReader rd(mpath);
    for (const ParamView& v : model.params.views) {
        Tensor t = rd.read_f32(v.name, v.shape);  // validates shape, rejects NaN/Inf
        std::memcpy(model.params.data.data() + v.offset, t.ptr(), sizeof(float) * v.numel);
    }
    return model;
}

static Json config_sans_steps(const ToyConfig& c) {
    Json j = c.to_json();
    j["steps"] = Json();
    return j;
}

void toy_save_checkpoint(const ToyModel& model, const ToyCheckpoint& ck, const std::string& dir) {
    const int64_t N = (int64_t)model.params.size();
    UNFOLD_CHECK((int64_t)ck.params.size() == N && (int64_t)ck.adam_m.size() == N && (int64_t)ck.adam_v.size() == N,
                 "toy_save_checkpoint: state sizes do not match the model (%lld parameters)", (long long)N);
    make_dirs(dir);
    json_save(path_join(dir, "config.json"), model.cfg.to_json());
    std::vector<StWriteTensor> ts = {{"params", {N}, ck.params.data(), DType::F32},
                                     {"adam_m", {N}, ck.adam_m.data(), DType::F32},
                                     {"adam_v", {N}, ck.adam_v.data(), DType::F32}};
    std::map<std::string, std::string> meta = {{"format", "unfold-toy-checkpoint"},
                                               {"step", std::to_string(ck.step)},
                                               {"adam_t", std::to_string(ck.adam_t)}};
    safetensors_write(path_join(dir, "state.safetensors"), ts, meta);
}

static int64_t meta_int(const SafeTensorsReader& rd, const std::string& key) {
    auto it = rd.metadata().find(key);
    UNFOLD_CHECK(it != rd.metadata().end(), "%s: metadata '%s' missing", rd.path().c_str(), key.c_str());
    const std::string& s = it->second;
    UNFOLD_CHECK(!s.empty() && s.size() < 19 && s.find_first_not_of("0123456789") == std::string::npos,
                 "%s: metadata '%s' = '%s' is not a non-negative integer", rd.path().c_str(), key.c_str(), s.c_str());
    return std::stoll(s);
}

bool toy_load_checkpoint(const ToyModel& model, const std::string& dir, ToyCheckpoint* ck) {
    const std::string spath = path_join(dir, "state.safetensors");
    if (!file_exists(spath)) return false;
    const std::string cpath = path_join(dir, "config.json");
    ToyConfig saved = ToyConfig::from_json(json_load(cpath), cpath);
    UNFOLD_CHECK(config_sans_steps(saved).dump(-1) == config_sans_steps(model.cfg).dump(-1),
                 "%s: checkpoint belongs to a different configuration (only --steps may change on resume)",
                 cpath.c_str());
    SafeTensorsReader rd(spath);
    const int64_t N = (int64_t)model.params.size();
    auto rd_vec = [&](const char* name) {
        Tensor t = rd.read_f32(name, {N});
        return t.data;
    };
    ck->params = rd_vec("params");
    ck->adam_m = rd_vec("adam_m");
    ck->adam_v = rd_vec("adam_v");
    ck->step = meta_int(rd, "step");
    ck->adam_t = meta_int(rd, "adam_t");
    UNFOLD_CHECK(ck->step <= model.cfg.steps, "%s: checkpoint is at step %lld, beyond the configured %lld steps",
                 spath.c_str(), (long long)ck->step, (long long)model.cfg.steps);
    for (float v : ck->adam_v)
        UNFOLD_CHECK(v >= 0, "%s: tensor 'adam_v' has a negative second moment", spath.c_str());
    return true;
}

}  // namespace unfold
